namespace Kirisame.Protocol;

/// Why a packet was refused. Each value names one rule, so logs and tests can say which;
/// <see cref="DecodeErrors.ToReasonCode"/> gives the reason code to send.
public enum DecodeError : byte
{
    None = 0,

    // Framing
    MalformedRemainingLength,
    PacketTooLarge,
    ReservedPacketType,
    InvalidFixedHeaderFlags,

    // Structure
    Truncated,
    TrailingBytes,
    MalformedVariableByteInteger,
    InvalidUtf8,
    NullCharacterInString,
    PacketIdentifierZero,
    InvalidQoS,

    // Properties
    MalformedProperties,
    UnknownProperty,
    DuplicateProperty,
    PropertyNotAllowed,
    InvalidPropertyValue,
    TopicAliasZero,
    /// Raised by a receiver that knows its Topic Alias Maximum, when the sender broke [MQTT-3.3.2-9] or
    /// [MQTT-3.3.2-11]; the codec does not.
    TopicAliasOutOfRange,
    SubscriptionIdentifierZero,

    // CONNECT
    UnknownProtocolName,
    UnsupportedProtocolVersion,
    ConnectReservedFlag,
    InvalidWillFlags,
    PasswordWithoutUserName,

    // Topics
    EmptyTopicName,
    WildcardInTopicName,
    EmptyTopicFilter,
    InvalidTopicFilter,
    InvalidSharedSubscription,
    NoTopicFilters,
    InvalidSubscriptionOptions,

    // Other packets
    InvalidReasonCode,
    EmptySubAck,

    // Appended so existing values keep their numbers.
    /// A reserved bit of a SUBSCRIBE's subscription options is set: malformed [MQTT-3.8.3-5] (3.1.1 [MQTT-3-8.3-4]).
    ReservedSubscriptionOptionBits,

    /// A will declared UTF-8 (Payload Format Indicator 1) whose payload is not: CONNACK 0x99 (v5 section 3.1.3.2.3).
    PayloadFormatInvalid,
}

public static class DecodeErrors
{
    public static ReasonCode ToReasonCode(DecodeError error) => error switch
    {
        DecodeError.None => ReasonCode.Success,
        DecodeError.PacketTooLarge => ReasonCode.PacketTooLarge,
        DecodeError.UnknownProtocolName or DecodeError.UnsupportedProtocolVersion => ReasonCode.UnsupportedProtocolVersion,
        DecodeError.TopicAliasZero or DecodeError.TopicAliasOutOfRange => ReasonCode.TopicAliasInvalid,
        DecodeError.WildcardInTopicName => ReasonCode.TopicNameInvalid,
        DecodeError.EmptyTopicFilter or DecodeError.InvalidTopicFilter or DecodeError.InvalidSharedSubscription => ReasonCode.TopicFilterInvalid,
        // A rule about what may appear where, rather than about the encoding, is a protocol error.
        // An identifier not valid for the packet type is malformed (section 2.2.2.2), so PropertyNotAllowed is not here.
        DecodeError.PacketIdentifierZero or DecodeError.DuplicateProperty or DecodeError.EmptyTopicName
            or DecodeError.InvalidPropertyValue or DecodeError.SubscriptionIdentifierZero
            or DecodeError.NoTopicFilters or DecodeError.InvalidReasonCode => ReasonCode.ProtocolError,
        // v5 section 3.8.3.1: Maximum QoS 3, Retain Handling 3 and No Local on a shared subscription [MQTT-3.8.3-4]
        // are each "a Protocol Error"; only the reserved bits make the packet malformed [MQTT-3.8.3-5].
        DecodeError.InvalidSubscriptionOptions => ReasonCode.ProtocolError,
        DecodeError.PayloadFormatInvalid => ReasonCode.PayloadFormatInvalid,
        _ => ReasonCode.MalformedPacket,
    };
}
