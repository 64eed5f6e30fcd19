namespace Kirisame.MqttSn.Codec;

/// SUBSCRIBE and UNSUBSCRIBE (MQTT-SN 1.2 §5.4.15, §5.4.17): Flags, MsgId, then a topic name (wildcards
/// allowed), a predefined topic id, or a two-character short name, as TopicIdType says.
internal readonly ref struct SnSubscribe
{
    public SnFlags Flags { get; init; }

    public ushort MsgId { get; init; }

    /// The name for TopicIdType Normal and ShortName; empty for Predefined.
    public string TopicName { get; init; }

    public ushort TopicId { get; init; }

    public static bool TryParse(ReadOnlySpan<byte> body, out SnSubscribe message)
    {
        var reader = new SnBodyReader(body);
        var flags = new SnFlags(reader.Byte());
        var msgId = reader.UInt16();
        message = default;
        switch (flags.TopicIdType)
        {
            case SnTopicIdType.Normal:
                var name = reader.RestText();
                message = new SnSubscribe { Flags = flags, MsgId = msgId, TopicName = name ?? "" };
                return reader.Ok && name is { Length: > 0 };
            case SnTopicIdType.Predefined:
                var id = reader.UInt16();
                message = new SnSubscribe { Flags = flags, MsgId = msgId, TopicId = id, TopicName = "" };
                return reader.Ok && reader.Remaining == 0;
            case SnTopicIdType.ShortName:
                // Two bytes, as they travel in a PUBLISH's TopicId field (§3.2.2).
                var twoBytes = reader.Remaining == 2;
                var shortName = reader.RestText();
                message = new SnSubscribe { Flags = flags, MsgId = msgId, TopicName = shortName ?? "" };
                return reader.Ok && twoBytes;
            default:
                return false;
        }
    }
}
