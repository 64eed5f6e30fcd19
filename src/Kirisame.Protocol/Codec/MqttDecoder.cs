using Kirisame.Protocol.Primitives;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;
using Kirisame.Protocol.Topics;

namespace Kirisame.Protocol.Codec;

/// Turns framed packets into packets, checking what the specifications require a receiver to check.
/// Failures come back as a <see cref="DecodeError"/> (see <see cref="DecodeErrors.ToReasonCode"/>), never
/// as exceptions. PUBLISH decodes to a struct without allocating; the rest are materialised.
public static partial class MqttDecoder
{
    /// Decodes any packet. CONNECT is accepted whatever <paramref name="version"/> says (it sets the version);
    /// PUBLISH is wrapped in a <see cref="PublishMessagePacket"/> over the same memory.
    public static DecodeError Decode(in RawPacket raw, ProtocolVersion version, out MqttPacket? packet)
    {
        packet = null;
        var error = CheckFlags(raw.Type, raw.Flags);
        if (error != DecodeError.None)
            return error;
        var body = raw.Body.Span;
        switch (raw.Type)
        {
            case PacketType.Connect:
                error = DecodeConnect(body, out var connect);
                packet = connect;
                return error;
            case PacketType.ConnAck:
                error = DecodeConnAck(body, version, out var connAck);
                packet = connAck;
                return error;
            case PacketType.Publish:
                error = DecodePublish(raw, version, out var publish);
                packet = error == DecodeError.None ? new PublishMessagePacket(publish) : null;
                return error;
            case PacketType.PubAck:
            case PacketType.PubRec:
            case PacketType.PubRel:
            case PacketType.PubComp:
                error = DecodePublishAck(raw.Type, body, version, out var ack);
                packet = ack;
                return error;
            case PacketType.Subscribe:
                error = DecodeSubscribe(body, version, out var subscribe);
                packet = subscribe;
                return error;
            case PacketType.SubAck:
                error = DecodeSubAck(body, version, out var subAck);
                packet = subAck;
                return error;
            case PacketType.Unsubscribe:
                error = DecodeUnsubscribe(body, version, out var unsubscribe);
                packet = unsubscribe;
                return error;
            case PacketType.UnsubAck:
                error = DecodeUnsubAck(body, version, out var unsubAck);
                packet = unsubAck;
                return error;
            case PacketType.PingReq:
                packet = PingReqPacket.Instance;
                return body.IsEmpty ? DecodeError.None : DecodeError.TrailingBytes;
            case PacketType.PingResp:
                packet = PingRespPacket.Instance;
                return body.IsEmpty ? DecodeError.None : DecodeError.TrailingBytes;
            case PacketType.Disconnect:
                error = DecodeDisconnect(body, version, out var disconnect);
                packet = disconnect;
                return error;
            case PacketType.Auth:
                error = DecodeAuth(body, version, out var auth);
                packet = auth;
                return error;
            default:
                return DecodeError.ReservedPacketType;
        }
    }

    /// The fixed header flags each type must carry (section 2.1.3): PUBLISH's are its own, PUBREL,
    /// SUBSCRIBE and UNSUBSCRIBE carry 0b0010, the rest 0 [MQTT-2.1.3-1].
    public static DecodeError CheckFlags(PacketType type, byte flags)
    {
        switch (type)
        {
            case PacketType.Publish:
                var qos = (flags >> 1) & 0x03;
                if (qos == 3)
                    return DecodeError.InvalidQoS; // [MQTT-3.3.1-4]
                // DUP must be 0 for QoS 0 [MQTT-3.3.1-2].
                return qos == 0 && (flags & 0x08) != 0 ? DecodeError.InvalidFixedHeaderFlags : DecodeError.None;
            case PacketType.PubRel:
            case PacketType.Subscribe:
            case PacketType.Unsubscribe:
                return flags == 0x02 ? DecodeError.None : DecodeError.InvalidFixedHeaderFlags;
            case PacketType.Reserved:
                return DecodeError.ReservedPacketType;
            default:
                return flags == 0 ? DecodeError.None : DecodeError.InvalidFixedHeaderFlags;
        }
    }

    /// Decodes a PUBLISH in place: topic, payload and properties are slices of <paramref name="raw"/>'s body.
    public static DecodeError DecodePublish(in RawPacket raw, ProtocolVersion version, out PublishPacket publish)
    {
        publish = default;
        var error = CheckFlags(PacketType.Publish, raw.Flags);
        if (error != DecodeError.None)
            return error;
        var memory = raw.Body;
        var reader = new SpanReader(memory.Span);
        var qos = (QualityOfService)((raw.Flags >> 1) & 0x03);
        error = reader.ReadString(out var topicOffset, out var topicLength);
        if (error != DecodeError.None)
            return error;
        var topic = memory.Slice(topicOffset, topicLength);
        ushort packetId = 0;
        if (qos != QualityOfService.AtMostOnce)
        {
            error = reader.ReadUInt16(out packetId);
            if (error != DecodeError.None)
                return error;
            if (packetId == 0)
                return DecodeError.PacketIdentifierZero; // [MQTT-2.2.1-3]
        }

        PublishProperties properties = default;
        if (version == ProtocolVersion.V500)
        {
            error = ReadPropertyBlockBounds(ref reader, out var offset, out var length);
            if (error != DecodeError.None)
                return error;
            error = PropertyCodec.ReadPublish(memory.Slice(offset, length), out properties);
            if (error != DecodeError.None)
                return error;
        }

        // An empty topic is allowed only with a Topic Alias (v5 section 3.3.2.3.4); the alias resolves it.
        var topicSpan = topic.Span;
        if (topicSpan.IsEmpty)
        {
            if (properties.TopicAlias == 0)
                return DecodeError.EmptyTopicName;
        }
        else if (topicSpan.IndexOfAny((byte)'+', (byte)'#') >= 0)
        {
            return DecodeError.WildcardInTopicName; // [MQTT-3.3.2-2]
        }

        publish = new PublishPacket
        {
            QoS = qos,
            Retain = (raw.Flags & 0x01) != 0,
            Dup = (raw.Flags & 0x08) != 0,
            PacketId = packetId,
            Topic = topic,
            Payload = memory[reader.Position..],
            Properties = properties,
        };
        return DecodeError.None;
    }

    private static DecodeError DecodePublishAck(PacketType type, ReadOnlySpan<byte> body, ProtocolVersion version, out PublishAckPacket? ack)
    {
        ack = null;
        var reader = new SpanReader(body);
        var error = reader.ReadUInt16(out var packetId);
        if (error != DecodeError.None)
            return error;
        if (packetId == 0)
            return DecodeError.PacketIdentifierZero;
        var reason = ReasonCode.Success;
        MqttProperties? properties = null;
        if (version == ProtocolVersion.V500)
        {
            // Reason code and properties may be omitted (section 3.4.2.1).
            if (reader.Remaining > 0)
            {
                reader.ReadByte(out var code);
                reason = (ReasonCode)code;
                if (!ReasonCodeSets.IsAllowed(type, reason))
                    return DecodeError.InvalidReasonCode;
            }

            if (reader.Remaining > 0)
            {
                error = ReadProperties(ref reader, PropertyDefinitions.TargetOf(type), out properties);
                if (error != DecodeError.None)
                    return error;
            }
        }

        if (reader.Remaining != 0)
            return DecodeError.TrailingBytes;
        ack = new PublishAckPacket(type, packetId, reason, properties);
        return DecodeError.None;
    }

    private static DecodeError DecodeConnAck(ReadOnlySpan<byte> body, ProtocolVersion version, out ConnAckPacket? connAck)
    {
        connAck = null;
        var reader = new SpanReader(body);
        var error = reader.ReadByte(out var flags);
        if (error != DecodeError.None)
            return error;
        error = reader.ReadByte(out var raw);
        if (error != DecodeError.None)
            return error;
        if ((flags & 0xFE) != 0)
            return DecodeError.InvalidFixedHeaderFlags; // reserved bits of the acknowledge flags [MQTT-3.2.2-1]
        // 3.1 has no Session Present: its first byte is reserved and unused, and the encoder writes 0 there.
        var packet = new ConnAckPacket { SessionPresent = (flags & 1) != 0 && version != ProtocolVersion.V310 };
        if (version == ProtocolVersion.V500)
        {
            packet.ReasonCode = (ReasonCode)raw;
            if (!ReasonCodeSets.IsAllowed(PacketType.ConnAck, packet.ReasonCode))
                return DecodeError.InvalidReasonCode;
            if (reader.Remaining > 0)
            {
                error = ReadProperties(ref reader, PropertyTarget.ConnAck, out var properties);
                if (error != DecodeError.None)
                    return error;
                packet.Properties = properties;
            }
        }
        else
        {
            if (raw > (byte)ConnectReturnCode.NotAuthorized)
                return DecodeError.InvalidReasonCode;
            packet.ReturnCode = (ConnectReturnCode)raw;
            packet.ReasonCode = FromReturnCode(packet.ReturnCode.Value);
        }

        if (reader.Remaining != 0)
            return DecodeError.TrailingBytes;
        connAck = packet;
        return DecodeError.None;
    }

    private static ReasonCode FromReturnCode(ConnectReturnCode code) => code switch
    {
        ConnectReturnCode.Accepted => ReasonCode.Success,
        ConnectReturnCode.UnacceptableProtocolVersion => ReasonCode.UnsupportedProtocolVersion,
        ConnectReturnCode.IdentifierRejected => ReasonCode.ClientIdentifierNotValid,
        ConnectReturnCode.ServerUnavailable => ReasonCode.ServerUnavailable,
        ConnectReturnCode.BadUserNameOrPassword => ReasonCode.BadUserNameOrPassword,
        _ => ReasonCode.NotAuthorized,
    };

    private static DecodeError DecodeDisconnect(ReadOnlySpan<byte> body, ProtocolVersion version, out DisconnectPacket? disconnect)
    {
        disconnect = null;
        var packet = new DisconnectPacket();
        if (version != ProtocolVersion.V500)
        {
            if (!body.IsEmpty)
                return DecodeError.TrailingBytes;
            disconnect = packet;
            return DecodeError.None;
        }

        var error = ReadReasonAndProperties(body, PacketType.Disconnect, out var reason, out var properties);
        if (error != DecodeError.None)
            return error;
        packet.ReasonCode = reason;
        packet.Properties = properties;
        disconnect = packet;
        return DecodeError.None;
    }

    private static DecodeError DecodeAuth(ReadOnlySpan<byte> body, ProtocolVersion version, out AuthPacket? auth)
    {
        auth = null;
        if (version != ProtocolVersion.V500)
            return DecodeError.ReservedPacketType; // type 15 is reserved before 5.0
        var error = ReadReasonAndProperties(body, PacketType.Auth, out var reason, out var properties);
        if (error != DecodeError.None)
            return error;
        auth = new AuthPacket { ReasonCode = reason, Properties = properties };
        return DecodeError.None;
    }

    /// DISCONNECT and AUTH: an empty body means Success with no properties; properties may be omitted.
    private static DecodeError ReadReasonAndProperties(ReadOnlySpan<byte> body, PacketType type, out ReasonCode reason, out MqttProperties? properties)
    {
        reason = ReasonCode.Success;
        properties = null;
        var reader = new SpanReader(body);
        if (reader.Remaining > 0)
        {
            reader.ReadByte(out var code);
            reason = (ReasonCode)code;
            if (!ReasonCodeSets.IsAllowed(type, reason))
                return DecodeError.InvalidReasonCode;
        }

        if (reader.Remaining > 0)
        {
            var error = ReadProperties(ref reader, PropertyDefinitions.TargetOf(type), out properties);
            if (error != DecodeError.None)
                return error;
        }

        return reader.Remaining == 0 ? DecodeError.None : DecodeError.TrailingBytes;
    }

    private static DecodeError ReadPropertyBlockBounds(ref SpanReader reader, out int offset, out int length)
    {
        offset = 0;
        length = 0;
        var error = reader.ReadVariableByteInteger(out var propertyLength);
        if (error != DecodeError.None)
            return error == DecodeError.Truncated ? DecodeError.Truncated : DecodeError.MalformedProperties;
        if (propertyLength > reader.Remaining)
            return DecodeError.MalformedProperties; // a property length beyond the packet
        offset = reader.Position;
        length = propertyLength;
        reader.Skip(propertyLength);
        return DecodeError.None;
    }

    private static DecodeError ReadProperties(ref SpanReader reader, PropertyTarget target, out MqttProperties? properties)
    {
        properties = null;
        var error = ReadPropertyBlockBounds(ref reader, out var offset, out var length);
        if (error != DecodeError.None)
            return error;
        return PropertyCodec.Read(reader.Span.Slice(offset, length), target, out properties);
    }
}

public static partial class MqttDecoder
{
    /// Reads a PUBACK/PUBREC/PUBREL/PUBCOMP's packet identifier and reason code without allocating.
    /// Properties, if any, are validated and skipped. Use <see cref="Decode"/> to get them.
    public static DecodeError DecodePublishAck(in RawPacket raw, ProtocolVersion version, out ushort packetId, out ReasonCode reason)
    {
        reason = ReasonCode.Success;
        packetId = 0;
        var error = CheckFlags(raw.Type, raw.Flags);
        if (error != DecodeError.None)
            return error;
        var body = raw.Body.Span;
        if (body.Length == 2 || (version != ProtocolVersion.V500 && body.Length >= 2))
        {
            if (body.Length != 2)
                return DecodeError.TrailingBytes;
            packetId = (ushort)((body[0] << 8) | body[1]);
            return packetId == 0 ? DecodeError.PacketIdentifierZero : DecodeError.None;
        }

        error = DecodePublishAck(raw.Type, body, version, out var ack);
        if (error != DecodeError.None)
            return error;
        packetId = ack!.PacketId;
        reason = ack.ReasonCode;
        return DecodeError.None;
    }
}
