namespace Kirisame.MqttSn.Codec;

/// Bits 1-0 of the Flags byte: what the TopicId (or topic) field holds (MQTT-SN 1.2 §5.3.4).
internal enum SnTopicIdType : byte
{
    /// An id the client and gateway agreed with REGISTER/REGACK (or a topic name in SUBSCRIBE).
    Normal = 0,

    /// An id both sides know in advance, from configuration (MqttSn:PredefinedTopics).
    Predefined = 1,

    /// A two-character topic name carried in the TopicId field itself.
    ShortName = 2,
}
