namespace Kirisame.Protocol;

/// MQTT 5.0 reason codes (section 2.4). Values are on the wire; never renumber.
public enum ReasonCode : byte
{
    Success = 0x00,
    NormalDisconnection = 0x00,
    GrantedQoS0 = 0x00,
    GrantedQoS1 = 0x01,
    GrantedQoS2 = 0x02,
    DisconnectWithWillMessage = 0x04,
    NoMatchingSubscribers = 0x10,
    NoSubscriptionExisted = 0x11,
    ContinueAuthentication = 0x18,
    ReAuthenticate = 0x19,
    UnspecifiedError = 0x80,
    MalformedPacket = 0x81,
    ProtocolError = 0x82,
    ImplementationSpecificError = 0x83,
    UnsupportedProtocolVersion = 0x84,
    ClientIdentifierNotValid = 0x85,
    BadUserNameOrPassword = 0x86,
    NotAuthorized = 0x87,
    ServerUnavailable = 0x88,
    ServerBusy = 0x89,
    Banned = 0x8A,
    ServerShuttingDown = 0x8B,
    BadAuthenticationMethod = 0x8C,
    KeepAliveTimeout = 0x8D,
    SessionTakenOver = 0x8E,
    TopicFilterInvalid = 0x8F,
    TopicNameInvalid = 0x90,
    PacketIdentifierInUse = 0x91,
    PacketIdentifierNotFound = 0x92,
    ReceiveMaximumExceeded = 0x93,
    TopicAliasInvalid = 0x94,
    PacketTooLarge = 0x95,
    MessageRateTooHigh = 0x96,
    QuotaExceeded = 0x97,
    AdministrativeAction = 0x98,
    PayloadFormatInvalid = 0x99,
    RetainNotSupported = 0x9A,
    QoSNotSupported = 0x9B,
    UseAnotherServer = 0x9C,
    ServerMoved = 0x9D,
    SharedSubscriptionsNotSupported = 0x9E,
    ConnectionRateExceeded = 0x9F,
    MaximumConnectTime = 0xA0,
    SubscriptionIdentifiersNotSupported = 0xA1,
    WildcardSubscriptionsNotSupported = 0xA2,
}

/// MQTT 3.1 / 3.1.1 CONNACK return codes (section 3.2.2.3 of 3.1.1).
public enum ConnectReturnCode : byte
{
    Accepted = 0x00,
    UnacceptableProtocolVersion = 0x01,
    IdentifierRejected = 0x02,
    ServerUnavailable = 0x03,
    BadUserNameOrPassword = 0x04,
    NotAuthorized = 0x05,
}

public static class ReasonCodes
{
    /// The v3 CONNACK return code that best expresses a v5 reason code.
    public static ConnectReturnCode ToConnectReturnCode(ReasonCode code) => code switch
    {
        ReasonCode.Success => ConnectReturnCode.Accepted,
        ReasonCode.UnsupportedProtocolVersion => ConnectReturnCode.UnacceptableProtocolVersion,
        ReasonCode.ClientIdentifierNotValid => ConnectReturnCode.IdentifierRejected,
        ReasonCode.BadUserNameOrPassword or ReasonCode.BadAuthenticationMethod => ConnectReturnCode.BadUserNameOrPassword,
        ReasonCode.NotAuthorized or ReasonCode.Banned => ConnectReturnCode.NotAuthorized,
        _ => ConnectReturnCode.ServerUnavailable,
    };

    /// True for codes 0x80 and above, which mean failure on every packet that carries one.
    public static bool IsError(ReasonCode code) => (byte)code >= 0x80;
}
