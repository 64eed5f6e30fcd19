namespace Kirisame.Protocol.Properties;

/// The properties of a control packet, materialised. Absent properties are null.
/// PUBLISH on the hot path uses <see cref="Packets.PublishProperties"/> instead, which does not allocate.
public sealed class MqttProperties : IEquatable<MqttProperties>
{
    public byte? PayloadFormatIndicator { get; set; }
    public uint? MessageExpiryInterval { get; set; }
    public string? ContentType { get; set; }
    public string? ResponseTopic { get; set; }
    public byte[]? CorrelationData { get; set; }
    public List<uint>? SubscriptionIdentifiers { get; set; }
    public uint? SessionExpiryInterval { get; set; }
    public string? AssignedClientIdentifier { get; set; }
    public ushort? ServerKeepAlive { get; set; }
    public string? AuthenticationMethod { get; set; }
    public byte[]? AuthenticationData { get; set; }
    public byte? RequestProblemInformation { get; set; }
    public uint? WillDelayInterval { get; set; }
    public byte? RequestResponseInformation { get; set; }
    public string? ResponseInformation { get; set; }
    public string? ServerReference { get; set; }
    /// A diagnostic text. Cut to what a string field holds (<see cref="Primitives.MqttText.Truncate"/>) when set, so
    /// that however a reason string was made (quoting a client's 64 KiB user name, say) the packet still encodes.
    public string? ReasonString
    {
        get => _reasonString;
        set => _reasonString = value is null ? null : Primitives.MqttText.Truncate(value);
    }

    private string? _reasonString;
    public ushort? ReceiveMaximum { get; set; }
    public ushort? TopicAliasMaximum { get; set; }
    public ushort? TopicAlias { get; set; }
    public byte? MaximumQoS { get; set; }
    public byte? RetainAvailable { get; set; }
    public List<UserProperty>? UserProperties { get; set; }
    public uint? MaximumPacketSize { get; set; }
    public byte? WildcardSubscriptionAvailable { get; set; }
    public byte? SubscriptionIdentifierAvailable { get; set; }
    public byte? SharedSubscriptionAvailable { get; set; }

    public bool IsEmpty => PropertyCodec.GetSize(this) == 0;

    public void AddUserProperty(string name, string value) => (UserProperties ??= []).Add(new UserProperty(name, value));

    public bool Equals(MqttProperties? other)
    {
        if (other is null)
            return false;
        return PayloadFormatIndicator == other.PayloadFormatIndicator
            && MessageExpiryInterval == other.MessageExpiryInterval
            && ContentType == other.ContentType
            && ResponseTopic == other.ResponseTopic
            && BytesEqual(CorrelationData, other.CorrelationData)
            && ListEqual(SubscriptionIdentifiers, other.SubscriptionIdentifiers)
            && SessionExpiryInterval == other.SessionExpiryInterval
            && AssignedClientIdentifier == other.AssignedClientIdentifier
            && ServerKeepAlive == other.ServerKeepAlive
            && AuthenticationMethod == other.AuthenticationMethod
            && BytesEqual(AuthenticationData, other.AuthenticationData)
            && RequestProblemInformation == other.RequestProblemInformation
            && WillDelayInterval == other.WillDelayInterval
            && RequestResponseInformation == other.RequestResponseInformation
            && ResponseInformation == other.ResponseInformation
            && ServerReference == other.ServerReference
            && ReasonString == other.ReasonString
            && ReceiveMaximum == other.ReceiveMaximum
            && TopicAliasMaximum == other.TopicAliasMaximum
            && TopicAlias == other.TopicAlias
            && MaximumQoS == other.MaximumQoS
            && RetainAvailable == other.RetainAvailable
            && ListEqual(UserProperties, other.UserProperties)
            && MaximumPacketSize == other.MaximumPacketSize
            && WildcardSubscriptionAvailable == other.WildcardSubscriptionAvailable
            && SubscriptionIdentifierAvailable == other.SubscriptionIdentifierAvailable
            && SharedSubscriptionAvailable == other.SharedSubscriptionAvailable;
    }

    public override bool Equals(object? obj) => Equals(obj as MqttProperties);

    public override int GetHashCode() => HashCode.Combine(SessionExpiryInterval, ReasonString, UserProperties?.Count ?? 0);

    /// Equality where null and an empty property set are the same.
    public static bool AreEquivalent(MqttProperties? a, MqttProperties? b)
        => (a is null || a.IsEmpty) ? (b is null || b.IsEmpty) : a.Equals(b ?? new MqttProperties());

    private static bool BytesEqual(byte[]? a, byte[]? b)
        => a is null ? b is null : b is not null && a.AsSpan().SequenceEqual(b);

    private static bool ListEqual<T>(List<T>? a, List<T>? b)
    {
        if ((a is null || a.Count == 0) && (b is null || b.Count == 0))
            return true;
        if (a is null || b is null || a.Count != b.Count)
            return false;
        var comparer = EqualityComparer<T>.Default;
        for (var i = 0; i < a.Count; i++)
        {
            if (!comparer.Equals(a[i], b[i]))
                return false;
        }

        return true;
    }
}
