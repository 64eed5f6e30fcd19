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
        _ => ReasonCode.MalformedPacket,
    };
}
