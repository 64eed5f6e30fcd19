using Kirisame.Protocol.Primitives;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;
using Kirisame.Protocol.Topics;

namespace Kirisame.Protocol.Codec;

public static partial class MqttDecoder
{
    /// The protocol level byte of a CONNECT body, or 0 if it cannot be read. A server uses it to pick the
    /// CONNACK format when refusing a CONNECT (0x84 for level 5, return code 0x01 otherwise).
    public static byte PeekProtocolLevel(ReadOnlySpan<byte> connectBody)
    {
        if (connectBody.Length < 2)
            return 0;
        var nameLength = (connectBody[0] << 8) | connectBody[1];
        return connectBody.Length > 2 + nameLength ? connectBody[2 + nameLength] : (byte)0;
    }

    public static DecodeError DecodeConnect(ReadOnlySpan<byte> body, out ConnectPacket? connect)
    {
        connect = null;
        var reader = new SpanReader(body);
        var error = reader.ReadBinary(out var nameOffset, out var nameLength);
        if (error != DecodeError.None)
            return error;
        var name = body.Slice(nameOffset, nameLength);
        error = reader.ReadByte(out var level);
        if (error != DecodeError.None)
            return error;

        // Mosquitto's bridge flag on a 3.1 or 3.1.1 level (see ConnectPacket.IsBridge).
        var bridge = (level & 0x80) != 0 && (level & 0x7F) is 3 or 4;
        if (bridge)
            level &= 0x7F;

        // [MQTT-3.1.2-1] protocol name; [MQTT-3.1.2-2] unsupported level → CONNACK 0x01 / 0x84 and close.
        ProtocolVersion version;
        if (name.SequenceEqual("MQTT"u8))
        {
            if (level is not (4 or 5))
                return DecodeError.UnsupportedProtocolVersion;
            version = (ProtocolVersion)level;
        }
        else if (name.SequenceEqual("MQIsdp"u8))
        {
            if (level != 3)
                return DecodeError.UnsupportedProtocolVersion;
            version = ProtocolVersion.V310;
        }
        else
        {
            return DecodeError.UnknownProtocolName;
        }

        error = reader.ReadByte(out var flags);
        if (error != DecodeError.None)
            return error;
        if ((flags & 0x01) != 0)
            return DecodeError.ConnectReservedFlag; // [MQTT-3.1.2-3]
        var willFlag = (flags & 0x04) != 0;
        var willQoS = (flags >> 3) & 0x03;
        var willRetain = (flags & 0x20) != 0;
        var hasPassword = (flags & 0x40) != 0;
        var hasUserName = (flags & 0x80) != 0;
        if (willQoS == 3)
            return DecodeError.InvalidWillFlags; // [MQTT-3.1.2-12]
        if (!willFlag && (willQoS != 0 || willRetain))
            return DecodeError.InvalidWillFlags; // [MQTT-3.1.2-11], [MQTT-3.1.2-13]
        if (version != ProtocolVersion.V500 && hasPassword && !hasUserName)
            return DecodeError.PasswordWithoutUserName; // 3.1.1 [MQTT-3.1.2-22]

        error = reader.ReadUInt16(out var keepAlive);
        if (error != DecodeError.None)
            return error;

        var packet = new ConnectPacket
        {
            ProtocolVersion = version,
            IsBridge = bridge,
            CleanStart = (flags & 0x02) != 0,
            KeepAlive = keepAlive,
        };
        if (version == ProtocolVersion.V500)
        {
            error = ReadProperties(ref reader, PropertyTarget.Connect, out var properties);
            if (error != DecodeError.None)
                return error;
            packet.Properties = properties;
        }

        // Payload order: Client Identifier, Will Properties, Will Topic, Will Payload, User Name, Password [MQTT-3.1.3-1].
        error = reader.ReadString(out string clientId);
        if (error != DecodeError.None)
            return error;
        packet.ClientId = clientId;

        if (willFlag)
        {
            var will = new WillMessage { QoS = (QualityOfService)willQoS, Retain = willRetain };
            if (version == ProtocolVersion.V500)
            {
                error = ReadProperties(ref reader, PropertyTarget.Will, out var willProperties);
                if (error != DecodeError.None)
                    return error;
                will.Properties = willProperties;
            }

            error = reader.ReadString(out var topicOffset, out var topicLength);
            if (error != DecodeError.None)
                return error;
            var topic = body.Slice(topicOffset, topicLength);
            error = TopicRules.ValidateTopicName(topic);
            if (error != DecodeError.None)
                return error;
            will.Topic = System.Text.Encoding.UTF8.GetString(topic);
            error = reader.ReadBinary(out byte[] payload);
            if (error != DecodeError.None)
                return error;
            will.Payload = payload;
            if (will.Properties?.PayloadFormatIndicator == 1 && System.Text.Unicode.Utf8.IsValid(payload) is false)
                return DecodeError.PayloadFormatInvalid; // declared UTF-8 but is not: CONNACK 0x99 (section 3.1.3.2.3)
            packet.Will = will;
        }

        if (hasUserName)
        {
            error = reader.ReadString(out string userName);
            if (error != DecodeError.None)
                return error;
            packet.UserName = userName;
        }

        if (hasPassword)
        {
            error = reader.ReadBinary(out byte[] password);
            if (error != DecodeError.None)
                return error;
            packet.Password = password;
        }

        if (reader.Remaining != 0)
            return DecodeError.TrailingBytes;
        connect = packet;
        return DecodeError.None;
    }
}
