using Kirisame.Protocol.Primitives;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;
using Kirisame.Protocol.Topics;

namespace Kirisame.Protocol.Codec;

public static partial class MqttDecoder
{
    private static DecodeError DecodeSubscribe(ReadOnlySpan<byte> body, ProtocolVersion version, out SubscribePacket? subscribe)
    {
        subscribe = null;
        var reader = new SpanReader(body);
        var error = ReadPacketId(ref reader, out var packetId);
        if (error != DecodeError.None)
            return error;
        var packet = new SubscribePacket { PacketId = packetId };
        if (version == ProtocolVersion.V500)
        {
            error = ReadProperties(ref reader, PropertyTarget.Subscribe, out var properties);
            if (error != DecodeError.None)
                return error;
            packet.Properties = properties;
        }

        if (reader.Remaining == 0)
            return DecodeError.NoTopicFilters; // [MQTT-3.8.3-2]
        while (reader.Remaining > 0)
        {
            error = ReadFilter(ref reader, out var filter, out var shared);
            if (error != DecodeError.None)
                return error;
            error = reader.ReadByte(out var options);
            if (error != DecodeError.None)
                return error;
            var qos = options & 0x03;
            TopicSubscription subscription;
            if (version == ProtocolVersion.V500)
            {
                // Bits 6 and 7 are reserved: malformed [MQTT-3.8.3-5]. Maximum QoS 3 and Retain Handling 3
                // are protocol errors (section 3.8.3.1).
                if ((options & 0xC0) != 0)
                    return DecodeError.ReservedSubscriptionOptionBits;
                if (qos == 3)
                    return DecodeError.InvalidSubscriptionOptions;
                var retainHandling = (options >> 4) & 0x03;
                if (retainHandling == 3)
                    return DecodeError.InvalidSubscriptionOptions;
                var noLocal = (options & 0x04) != 0;
                if (noLocal && shared)
                    return DecodeError.InvalidSubscriptionOptions; // No Local on a shared subscription [MQTT-3.8.3-4]
                subscription = new TopicSubscription(filter, (QualityOfService)qos, noLocal, (options & 0x08) != 0, (RetainHandling)retainHandling);
            }
            else
            {
                // 3.1.1 [MQTT-3-8.3-4]: reserved bits set, or QoS 3, is malformed.
                if ((options & 0xFC) != 0)
                    return DecodeError.ReservedSubscriptionOptionBits;
                if (qos == 3)
                    return DecodeError.InvalidQoS;
                subscription = new TopicSubscription(filter, (QualityOfService)qos);
            }

            packet.Subscriptions.Add(subscription);
        }

        subscribe = packet;
        return DecodeError.None;
    }

    private static DecodeError DecodeUnsubscribe(ReadOnlySpan<byte> body, ProtocolVersion version, out UnsubscribePacket? unsubscribe)
    {
        unsubscribe = null;
        var reader = new SpanReader(body);
        var error = ReadPacketId(ref reader, out var packetId);
        if (error != DecodeError.None)
            return error;
        var packet = new UnsubscribePacket { PacketId = packetId };
        if (version == ProtocolVersion.V500)
        {
            error = ReadProperties(ref reader, PropertyTarget.Unsubscribe, out var properties);
            if (error != DecodeError.None)
                return error;
            packet.Properties = properties;
        }

        if (reader.Remaining == 0)
            return DecodeError.NoTopicFilters; // [MQTT-3.10.3-2]
        while (reader.Remaining > 0)
        {
            error = ReadFilter(ref reader, out var filter, out _);
            if (error != DecodeError.None)
                return error;
            packet.Filters.Add(filter);
        }

        unsubscribe = packet;
        return DecodeError.None;
    }

    private static DecodeError DecodeSubAck(ReadOnlySpan<byte> body, ProtocolVersion version, out SubAckPacket? subAck)
    {
        subAck = null;
        var reader = new SpanReader(body);
        var error = ReadPacketId(ref reader, out var packetId);
        if (error != DecodeError.None)
            return error;
        var packet = new SubAckPacket { PacketId = packetId };
        if (version == ProtocolVersion.V500)
        {
            error = ReadProperties(ref reader, PropertyTarget.SubAck, out var properties);
            if (error != DecodeError.None)
                return error;
            packet.Properties = properties;
        }

        if (reader.Remaining == 0)
            return DecodeError.EmptySubAck;
        while (reader.Remaining > 0)
        {
            reader.ReadByte(out var code);
            var reason = (ReasonCode)code;
            var allowed = version == ProtocolVersion.V500
                ? ReasonCodeSets.IsAllowed(PacketType.SubAck, reason)
                : code is 0x00 or 0x01 or 0x02 or 0x80;
            if (!allowed)
                return DecodeError.InvalidReasonCode;
            packet.ReasonCodes.Add(reason);
        }

        subAck = packet;
        return DecodeError.None;
    }

    private static DecodeError DecodeUnsubAck(ReadOnlySpan<byte> body, ProtocolVersion version, out UnsubAckPacket? unsubAck)
    {
        unsubAck = null;
        var reader = new SpanReader(body);
        var error = ReadPacketId(ref reader, out var packetId);
        if (error != DecodeError.None)
            return error;
        var packet = new UnsubAckPacket { PacketId = packetId };
        if (version == ProtocolVersion.V500)
        {
            error = ReadProperties(ref reader, PropertyTarget.UnsubAck, out var properties);
            if (error != DecodeError.None)
                return error;
            packet.Properties = properties;
            if (reader.Remaining == 0)
                return DecodeError.EmptySubAck;
            while (reader.Remaining > 0)
            {
                reader.ReadByte(out var code);
                if (!ReasonCodeSets.IsAllowed(PacketType.UnsubAck, (ReasonCode)code))
                    return DecodeError.InvalidReasonCode;
                packet.ReasonCodes.Add((ReasonCode)code);
            }
        }

        if (reader.Remaining != 0)
            return DecodeError.TrailingBytes;
        unsubAck = packet;
        return DecodeError.None;
    }

    private static DecodeError ReadPacketId(ref SpanReader reader, out ushort packetId)
    {
        var error = reader.ReadUInt16(out packetId);
        if (error != DecodeError.None)
            return error;
        return packetId == 0 ? DecodeError.PacketIdentifierZero : DecodeError.None; // [MQTT-2.2.1-3]
    }

    private static DecodeError ReadFilter(ref SpanReader reader, out string filter, out bool shared)
    {
        filter = "";
        shared = false;
        var error = reader.ReadString(out var offset, out var length);
        if (error != DecodeError.None)
            return error;
        var utf8 = reader.Span.Slice(offset, length);
        error = TopicRules.ValidateTopicFilter(utf8);
        if (error != DecodeError.None)
            return error;
        shared = utf8.StartsWith("$share/"u8);
        filter = System.Text.Encoding.UTF8.GetString(utf8);
        return DecodeError.None;
    }
}
