using System.Buffers;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Primitives;
using Kirisame.Protocol.Properties;

namespace Kirisame.Protocol.Codec;

/// Writes packets. Every packet's size is computed exactly first, so a writer is asked for one span.
/// Properties are written only for MQTT 5.0; a v5-only field given for an older version is dropped.
public static partial class MqttEncoder
{
    public static int GetSize(MqttPacket packet, ProtocolVersion version)
    {
        var body = GetBodySize(packet, version);
        return 1 + VariableByteInteger.GetSize(body) + body;
    }

    public static byte[] Encode(MqttPacket packet, ProtocolVersion version)
    {
        var bytes = new byte[GetSize(packet, version)];
        Write(bytes, packet, version);
        return bytes;
    }

    public static void Write(IBufferWriter<byte> writer, MqttPacket packet, ProtocolVersion version)
    {
        var size = GetSize(packet, version);
        Write(writer.GetSpan(size), packet, version);
        writer.Advance(size);
    }

    /// Writes <paramref name="packet"/> at the start of <paramref name="destination"/>; returns the bytes written.
    public static int Write(Span<byte> destination, MqttPacket packet, ProtocolVersion version)
    {
        if (packet is PublishMessagePacket publish)
            return WritePublish(destination, publish.Publish, version);
        var body = GetBodySize(packet, version);
        var w = new SpanWriter(destination);
        w.WriteByte((byte)(((int)packet.Type << 4) | FixedFlags(packet.Type)));
        w.WriteVariableByteInteger(body);
        var v5 = version == ProtocolVersion.V500;
        switch (packet)
        {
            case ConnectPacket connect:
                WriteConnect(ref w, connect);
                break;
            case ConnAckPacket connAck:
                w.WriteByte(connAck.SessionPresent && version != ProtocolVersion.V310 ? (byte)1 : (byte)0);
                if (v5)
                {
                    w.WriteByte((byte)connAck.ReasonCode);
                    PropertyCodec.WriteBlock(ref w, connAck.Properties);
                }
                else
                {
                    w.WriteByte((byte)(connAck.ReturnCode ?? ReasonCodes.ToConnectReturnCode(connAck.ReasonCode)));
                }

                break;
            case PublishAckPacket ack:
                w.WriteUInt16(ack.PacketId);
                if (v5)
                    WriteOptionalReasonAndProperties(ref w, ack.ReasonCode, ack.Properties);
                break;
            case SubscribePacket subscribe:
                w.WriteUInt16(subscribe.PacketId);
                if (v5)
                    PropertyCodec.WriteBlock(ref w, subscribe.Properties);
                foreach (var s in subscribe.Subscriptions)
                {
                    w.WriteString(s.Filter);
                    var options = (byte)s.MaximumQoS;
                    if (v5)
                    {
                        options |= (byte)((s.NoLocal ? 0x04 : 0) | (s.RetainAsPublished ? 0x08 : 0) | ((int)s.RetainHandling << 4));
                    }

                    w.WriteByte(options);
                }

                break;
            case SubAckPacket subAck:
                w.WriteUInt16(subAck.PacketId);
                if (v5)
                    PropertyCodec.WriteBlock(ref w, subAck.Properties);
                foreach (var code in subAck.ReasonCodes)
                    w.WriteByte(v5 ? (byte)code : ToV3SubAck(code));
                break;
            case UnsubscribePacket unsubscribe:
                w.WriteUInt16(unsubscribe.PacketId);
                if (v5)
                    PropertyCodec.WriteBlock(ref w, unsubscribe.Properties);
                foreach (var filter in unsubscribe.Filters)
                    w.WriteString(filter);
                break;
            case UnsubAckPacket unsubAck:
                w.WriteUInt16(unsubAck.PacketId);
                if (v5)
                {
                    PropertyCodec.WriteBlock(ref w, unsubAck.Properties);
                    foreach (var code in unsubAck.ReasonCodes)
                        w.WriteByte((byte)code);
                }

                break;
            case DisconnectPacket disconnect:
                if (v5)
                    WriteOptionalReasonAndProperties(ref w, disconnect.ReasonCode, disconnect.Properties);
                break;
            case AuthPacket auth:
                WriteOptionalReasonAndProperties(ref w, auth.ReasonCode, auth.Properties);
                break;
        }

        return w.Position;
    }

    private static int GetBodySize(MqttPacket packet, ProtocolVersion version)
    {
        var v5 = version == ProtocolVersion.V500;
        var size = packet switch
        {
            ConnectPacket connect => GetConnectBodySize(connect),
            ConnAckPacket connAck => 2 + (v5 ? PropertyCodec.GetBlockSize(connAck.Properties) : 0),
            PublishMessagePacket publish => GetPublishBodySize(publish.Publish, version),
            PublishAckPacket ack => 2 + (v5 ? OptionalReasonAndPropertiesSize(ack.ReasonCode, ack.Properties) : 0),
            SubscribePacket subscribe => 2 + (v5 ? PropertyCodec.GetBlockSize(subscribe.Properties) : 0) + SumFilters(subscribe),
            SubAckPacket subAck => 2 + (v5 ? PropertyCodec.GetBlockSize(subAck.Properties) : 0) + subAck.ReasonCodes.Count,
            UnsubscribePacket unsubscribe => 2 + (v5 ? PropertyCodec.GetBlockSize(unsubscribe.Properties) : 0) + SumFilters(unsubscribe),
            UnsubAckPacket unsubAck => 2 + (v5 ? PropertyCodec.GetBlockSize(unsubAck.Properties) + unsubAck.ReasonCodes.Count : 0),
            PingReqPacket or PingRespPacket => 0,
            DisconnectPacket disconnect => v5 ? OptionalReasonAndPropertiesSize(disconnect.ReasonCode, disconnect.Properties) : 0,
            AuthPacket auth => OptionalReasonAndPropertiesSize(auth.ReasonCode, auth.Properties),
            _ => throw new ArgumentException($"Cannot encode {packet.GetType().Name}.", nameof(packet)),
        };
        if (size > VariableByteInteger.MaxValue)
            throw new ArgumentException($"A packet body of {size} bytes exceeds MQTT's maximum.", nameof(packet));
        return size;
    }

    private static byte FixedFlags(PacketType type)
        => type is PacketType.PubRel or PacketType.Subscribe or PacketType.Unsubscribe ? (byte)0x02 : (byte)0;

    private static byte ToV3SubAck(ReasonCode code) => (byte)code <= 2 ? (byte)code : (byte)0x80;

    private static int SumFilters(SubscribePacket subscribe)
    {
        var size = 0;
        foreach (var s in subscribe.Subscriptions)
            size += Sizes.String(s.Filter) + 1;
        return size;
    }

    private static int SumFilters(UnsubscribePacket unsubscribe)
    {
        var size = 0;
        foreach (var f in unsubscribe.Filters)
            size += Sizes.String(f);
        return size;
    }

    /// The short forms of section 3.4.2.1 / 3.14.2.1 / 3.15.2.1: Success without properties is omitted,
    /// and empty properties are omitted after a reason code.
    private static int OptionalReasonAndPropertiesSize(ReasonCode reason, MqttProperties? properties)
    {
        var propertySize = PropertyCodec.GetSize(properties);
        if (propertySize == 0)
            return reason == ReasonCode.Success ? 0 : 1;
        return 1 + VariableByteInteger.GetSize(propertySize) + propertySize;
    }

    private static void WriteOptionalReasonAndProperties(ref SpanWriter w, ReasonCode reason, MqttProperties? properties)
    {
        var propertySize = PropertyCodec.GetSize(properties);
        if (propertySize == 0)
        {
            if (reason != ReasonCode.Success)
                w.WriteByte((byte)reason);
            return;
        }

        w.WriteByte((byte)reason);
        PropertyCodec.WriteBlock(ref w, properties);
    }

    private static int GetConnectBodySize(ConnectPacket c)
    {
        var v5 = c.ProtocolVersion == ProtocolVersion.V500;
        var size = (c.ProtocolVersion == ProtocolVersion.V310 ? 8 : 6) + 1 + 1 + 2;
        if (v5)
            size += PropertyCodec.GetBlockSize(c.Properties);
        size += Sizes.String(c.ClientId);
        if (c.Will is { } will)
        {
            if (v5)
                size += PropertyCodec.GetBlockSize(will.Properties);
            size += Sizes.String(will.Topic) + Sizes.Binary(will.Payload.Length);
        }

        if (c.UserName is { } user)
            size += Sizes.String(user);
        if (c.Password is { } password)
            size += Sizes.Binary(password.Length);
        return size;
    }

    private static void WriteConnect(ref SpanWriter w, ConnectPacket c)
    {
        var v5 = c.ProtocolVersion == ProtocolVersion.V500;
        w.WriteString(c.ProtocolVersion == ProtocolVersion.V310 ? "MQIsdp" : "MQTT");
        w.WriteByte((byte)c.ProtocolVersion);
        var flags = 0;
        if (c.CleanStart) flags |= 0x02;
        if (c.Will is { } w0)
        {
            flags |= 0x04 | ((int)w0.QoS << 3);
            if (w0.Retain) flags |= 0x20;
        }

        if (c.Password is not null) flags |= 0x40;
        if (c.UserName is not null) flags |= 0x80;
        w.WriteByte((byte)flags);
        w.WriteUInt16(c.KeepAlive);
        if (v5)
            PropertyCodec.WriteBlock(ref w, c.Properties);
        w.WriteString(c.ClientId);
        if (c.Will is { } will)
        {
            if (v5)
                PropertyCodec.WriteBlock(ref w, will.Properties);
            w.WriteString(will.Topic);
            w.WriteBinary(will.Payload);
        }

        if (c.UserName is { } user)
            w.WriteString(user);
        if (c.Password is { } password)
            w.WriteBinary(password);
    }
}
