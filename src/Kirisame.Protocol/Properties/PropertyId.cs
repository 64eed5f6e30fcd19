namespace Kirisame.Protocol.Properties;

/// MQTT 5.0 property identifiers (section 2.2.2.2). Values are on the wire.
public enum PropertyId : byte
{
    PayloadFormatIndicator = 0x01,
    MessageExpiryInterval = 0x02,
    ContentType = 0x03,
    ResponseTopic = 0x08,
    CorrelationData = 0x09,
    SubscriptionIdentifier = 0x0B,
    SessionExpiryInterval = 0x11,
    AssignedClientIdentifier = 0x12,
    ServerKeepAlive = 0x13,
    AuthenticationMethod = 0x15,
    AuthenticationData = 0x16,
    RequestProblemInformation = 0x17,
    WillDelayInterval = 0x18,
    RequestResponseInformation = 0x19,
    ResponseInformation = 0x1A,
    ServerReference = 0x1C,
    ReasonString = 0x1F,
    ReceiveMaximum = 0x21,
    TopicAliasMaximum = 0x22,
    TopicAlias = 0x23,
    MaximumQoS = 0x24,
    RetainAvailable = 0x25,
    UserProperty = 0x26,
    MaximumPacketSize = 0x27,
    WildcardSubscriptionAvailable = 0x28,
    SubscriptionIdentifierAvailable = 0x29,
    SharedSubscriptionAvailable = 0x2A,
}

public enum PropertyType : byte
{
    None = 0,
    Byte,
    TwoByteInteger,
    FourByteInteger,
    VariableByteInteger,
    Utf8String,
    BinaryData,
    Utf8StringPair,
}

/// Where a property may appear. Will properties live inside CONNECT's payload, so they get their own bit.
[Flags]
public enum PropertyTarget : ushort
{
    None = 0,
    Connect = 1 << 1,
    ConnAck = 1 << 2,
    Publish = 1 << 3,
    PubAck = 1 << 4,
    PubRec = 1 << 5,
    PubRel = 1 << 6,
    PubComp = 1 << 7,
    Subscribe = 1 << 8,
    SubAck = 1 << 9,
    Unsubscribe = 1 << 10,
    UnsubAck = 1 << 11,
    Disconnect = 1 << 14,
    Auth = 1 << 15,
    Will = 1 << 0,
}

/// The table of section 2.2.2.2: each property's data type and the packets it may appear in.
public static class PropertyDefinitions
{
    private const PropertyTarget Acks = PropertyTarget.PubAck | PropertyTarget.PubRec | PropertyTarget.PubRel | PropertyTarget.PubComp;
    private const PropertyTarget WithReasonString = PropertyTarget.ConnAck | Acks | PropertyTarget.SubAck | PropertyTarget.UnsubAck
        | PropertyTarget.Disconnect | PropertyTarget.Auth;

    private static readonly PropertyType[] s_types = BuildTypes();
    private static readonly PropertyTarget[] s_targets = BuildTargets();

    public static PropertyType GetType(PropertyId id) => s_types[(byte)id];

    public static bool IsKnown(byte id) => id < s_types.Length && s_types[id] != PropertyType.None;

    public static bool IsAllowed(PropertyId id, PropertyTarget target) => (s_targets[(byte)id] & target) != 0;

    public static PropertyTarget TargetOf(PacketType type) => (PropertyTarget)(1 << (int)type);

    private static PropertyType[] BuildTypes()
    {
        var t = new PropertyType[0x2B];
        t[0x01] = PropertyType.Byte;
        t[0x02] = PropertyType.FourByteInteger;
        t[0x03] = PropertyType.Utf8String;
        t[0x08] = PropertyType.Utf8String;
        t[0x09] = PropertyType.BinaryData;
        t[0x0B] = PropertyType.VariableByteInteger;
        t[0x11] = PropertyType.FourByteInteger;
        t[0x12] = PropertyType.Utf8String;
        t[0x13] = PropertyType.TwoByteInteger;
        t[0x15] = PropertyType.Utf8String;
        t[0x16] = PropertyType.BinaryData;
        t[0x17] = PropertyType.Byte;
        t[0x18] = PropertyType.FourByteInteger;
        t[0x19] = PropertyType.Byte;
        t[0x1A] = PropertyType.Utf8String;
        t[0x1C] = PropertyType.Utf8String;
        t[0x1F] = PropertyType.Utf8String;
        t[0x21] = PropertyType.TwoByteInteger;
        t[0x22] = PropertyType.TwoByteInteger;
        t[0x23] = PropertyType.TwoByteInteger;
        t[0x24] = PropertyType.Byte;
        t[0x25] = PropertyType.Byte;
        t[0x26] = PropertyType.Utf8StringPair;
        t[0x27] = PropertyType.FourByteInteger;
        t[0x28] = PropertyType.Byte;
        t[0x29] = PropertyType.Byte;
        t[0x2A] = PropertyType.Byte;
        return t;
    }

    private static PropertyTarget[] BuildTargets()
    {
        var t = new PropertyTarget[0x2B];
        const PropertyTarget publishAndWill = PropertyTarget.Publish | PropertyTarget.Will;
        t[0x01] = publishAndWill;
        t[0x02] = publishAndWill;
        t[0x03] = publishAndWill;
        t[0x08] = publishAndWill;
        t[0x09] = publishAndWill;
        t[0x0B] = PropertyTarget.Publish | PropertyTarget.Subscribe;
        t[0x11] = PropertyTarget.Connect | PropertyTarget.ConnAck | PropertyTarget.Disconnect;
        t[0x12] = PropertyTarget.ConnAck;
        t[0x13] = PropertyTarget.ConnAck;
        t[0x15] = PropertyTarget.Connect | PropertyTarget.ConnAck | PropertyTarget.Auth;
        t[0x16] = PropertyTarget.Connect | PropertyTarget.ConnAck | PropertyTarget.Auth;
        t[0x17] = PropertyTarget.Connect;
        t[0x18] = PropertyTarget.Will;
        t[0x19] = PropertyTarget.Connect;
        t[0x1A] = PropertyTarget.ConnAck;
        t[0x1C] = PropertyTarget.ConnAck | PropertyTarget.Disconnect;
        t[0x1F] = WithReasonString;
        t[0x21] = PropertyTarget.Connect | PropertyTarget.ConnAck;
        t[0x22] = PropertyTarget.Connect | PropertyTarget.ConnAck;
        t[0x23] = PropertyTarget.Publish;
        t[0x24] = PropertyTarget.ConnAck;
        t[0x25] = PropertyTarget.ConnAck;
        t[0x26] = PropertyTarget.Connect | PropertyTarget.Will | PropertyTarget.ConnAck | PropertyTarget.Publish | Acks
            | PropertyTarget.Subscribe | PropertyTarget.SubAck | PropertyTarget.Unsubscribe | PropertyTarget.UnsubAck
            | PropertyTarget.Disconnect | PropertyTarget.Auth;
        t[0x27] = PropertyTarget.Connect | PropertyTarget.ConnAck;
        t[0x28] = PropertyTarget.ConnAck;
        t[0x29] = PropertyTarget.ConnAck;
        t[0x2A] = PropertyTarget.ConnAck;
        return t;
    }
}
