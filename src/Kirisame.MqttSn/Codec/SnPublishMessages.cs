namespace Kirisame.MqttSn.Codec;

/// PUBLISH (MQTT-SN 1.2 §5.4.12): Flags, TopicId (or a two-character short name), MsgId, Data.
internal readonly ref struct SnPublish
{
    public SnFlags Flags { get; init; }

    public ushort TopicId { get; init; }

    public ushort MsgId { get; init; }

    public ReadOnlySpan<byte> Data { get; init; }

    /// Offset of the Flags byte from the start of the message, for setting DUP on a retransmission.
    public static int FlagsOffset(int messageLength) => messageLength > SnFrame.MaxShortLength ? 4 : 2;

    public static bool TryParse(ReadOnlySpan<byte> body, out SnPublish message)
    {
        var reader = new SnBodyReader(body);
        var flags = new SnFlags(reader.Byte());
        var topicId = reader.UInt16();
        var msgId = reader.UInt16();
        message = new SnPublish { Flags = flags, TopicId = topicId, MsgId = msgId, Data = reader.Rest() };
        return reader.Ok && !flags.TopicIdTypeReserved;
    }
}

/// REGISTER (§5.4.10): TopicId (0x0000 from a client), MsgId, TopicName.
internal readonly ref struct SnRegister
{
    public ushort TopicId { get; init; }

    public ushort MsgId { get; init; }

    public string TopicName { get; init; }

    public static bool TryParse(ReadOnlySpan<byte> body, out SnRegister message)
    {
        var reader = new SnBodyReader(body);
        var topicId = reader.UInt16();
        var msgId = reader.UInt16();
        var name = reader.RestText();
        message = new SnRegister { TopicId = topicId, MsgId = msgId, TopicName = name ?? "" };
        return reader.Ok && name is { Length: > 0 };
    }
}

/// REGACK and PUBACK (§5.4.11, §5.4.13): TopicId, MsgId, ReturnCode.
internal readonly ref struct SnTopicAck
{
    public ushort TopicId { get; init; }

    public ushort MsgId { get; init; }

    public SnReturnCode ReturnCode { get; init; }

    public static bool TryParse(ReadOnlySpan<byte> body, out SnTopicAck message)
    {
        message = default;
        if (body.Length != 5)
            return false;
        var reader = new SnBodyReader(body);
        message = new SnTopicAck { TopicId = reader.UInt16(), MsgId = reader.UInt16(), ReturnCode = (SnReturnCode)reader.Byte() };
        return true;
    }
}

/// PUBREC, PUBREL, PUBCOMP and UNSUBACK (§5.4.14, §5.4.18): a MsgId and nothing else.
internal static class SnMsgIdOnly
{
    public static bool TryParse(ReadOnlySpan<byte> body, out ushort msgId)
    {
        msgId = 0;
        if (body.Length != 2)
            return false;
        msgId = new SnBodyReader(body).UInt16();
        return true;
    }
}
