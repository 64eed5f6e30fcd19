using System.Text;
using Kirisame.Protocol.Properties;

namespace Kirisame.Protocol.Packets;

/// A PUBLISH as slices of the buffer it was read from (or of the caller's memory, to encode).
/// Decoding and encoding one allocates nothing; the slices are valid only as long as that buffer.
public readonly struct PublishPacket
{
    public QualityOfService QoS { get; init; }

    public bool Retain { get; init; }

    public bool Dup { get; init; }

    /// Zero for QoS 0, non-zero otherwise [MQTT-2.2.1-2], [MQTT-2.2.1-3].
    public ushort PacketId { get; init; }

    /// The topic name in UTF-8 (validated when decoded). Empty in v5 when a Topic Alias stands for it.
    public ReadOnlyMemory<byte> Topic { get; init; }

    public ReadOnlyMemory<byte> Payload { get; init; }

    /// MQTT 5.0 only.
    public PublishProperties Properties { get; init; }

    public string TopicString => Encoding.UTF8.GetString(Topic.Span);

    /// A copy that owns its memory, for keeping beyond the life of the read buffer.
    public PublishPacket Detach() => new()
    {
        QoS = QoS,
        Retain = Retain,
        Dup = Dup,
        PacketId = PacketId,
        Topic = Topic.ToArray(),
        Payload = Payload.ToArray(),
        Properties = Properties.Detach(),
    };

    public bool ContentEquals(in PublishPacket other)
        => QoS == other.QoS && Retain == other.Retain && Dup == other.Dup && PacketId == other.PacketId
            && Topic.Span.SequenceEqual(other.Topic.Span) && Payload.Span.SequenceEqual(other.Payload.Span)
            && Properties.ContentEquals(other.Properties);

    public override string ToString()
        => $"PUBLISH(topic={TopicString}, qos={(int)QoS}, retain={Retain}, dup={Dup}, id={PacketId}, payload={Payload.Length} bytes)";
}

/// The properties of a PUBLISH without materialising them. Strings and binary data are slices; User
/// Properties and Subscription Identifiers are kept as their encoded entries (identifier byte included), in
/// order, so that forwarding copies them as they came [MQTT-3.3.2-17], [MQTT-3.3.2-18].
public readonly struct PublishProperties
{
    public byte? PayloadFormatIndicator { get; init; }

    public uint? MessageExpiryInterval { get; init; }

    /// Zero when absent (zero is not a valid alias [MQTT-3.3.2-8]).
    public ushort TopicAlias { get; init; }

    public ReadOnlyMemory<byte>? ResponseTopic { get; init; }

    public ReadOnlyMemory<byte>? CorrelationData { get; init; }

    public ReadOnlyMemory<byte>? ContentType { get; init; }

    /// Encoded User Property entries: 0x26, name, value; repeated.
    public ReadOnlyMemory<byte> UserProperties { get; init; }

    /// Encoded Subscription Identifier entries: 0x0B, variable byte integer; repeated.
    public ReadOnlyMemory<byte> SubscriptionIdentifiers { get; init; }

    public bool IsEmpty => PayloadFormatIndicator is null && MessageExpiryInterval is null && TopicAlias == 0
        && ResponseTopic is null && CorrelationData is null && ContentType is null
        && UserProperties.IsEmpty && SubscriptionIdentifiers.IsEmpty;

    public PublishProperties Detach() => this with
    {
        ResponseTopic = Copy(ResponseTopic),
        CorrelationData = Copy(CorrelationData),
        ContentType = Copy(ContentType),
        UserProperties = UserProperties.ToArray(),
        SubscriptionIdentifiers = SubscriptionIdentifiers.ToArray(),
    };

    public bool ContentEquals(in PublishProperties other)
        => PayloadFormatIndicator == other.PayloadFormatIndicator
            && MessageExpiryInterval == other.MessageExpiryInterval
            && TopicAlias == other.TopicAlias
            && OptionalEquals(ResponseTopic, other.ResponseTopic)
            && OptionalEquals(CorrelationData, other.CorrelationData)
            && OptionalEquals(ContentType, other.ContentType)
            && UserProperties.Span.SequenceEqual(other.UserProperties.Span)
            && SubscriptionIdentifiers.Span.SequenceEqual(other.SubscriptionIdentifiers.Span);

    /// Materialises these properties (allocates).
    public MqttProperties ToMqttProperties()
    {
        var p = new MqttProperties
        {
            PayloadFormatIndicator = PayloadFormatIndicator,
            MessageExpiryInterval = MessageExpiryInterval,
            TopicAlias = TopicAlias == 0 ? null : TopicAlias,
            ResponseTopic = ResponseTopic is { } rt ? Encoding.UTF8.GetString(rt.Span) : null,
            CorrelationData = CorrelationData?.ToArray(),
            ContentType = ContentType is { } ct ? Encoding.UTF8.GetString(ct.Span) : null,
        };
        var reader = new PropertyReader(UserProperties.Span);
        while (reader.TryRead(out var property) == DecodeError.None && property.Id != 0)
            p.AddUserProperty(property.GetString(), property.GetPairValue());
        reader = new PropertyReader(SubscriptionIdentifiers.Span);
        while (reader.TryRead(out var property) == DecodeError.None && property.Id != 0)
            (p.SubscriptionIdentifiers ??= []).Add(property.Integer);
        return p;
    }

    /// Builds the struct form from materialised properties (allocates the encoded entries).
    public static PublishProperties From(MqttProperties? properties)
    {
        if (properties is null)
            return default;
        return new PublishProperties
        {
            PayloadFormatIndicator = properties.PayloadFormatIndicator,
            MessageExpiryInterval = properties.MessageExpiryInterval,
            TopicAlias = properties.TopicAlias ?? 0,
            ResponseTopic = Optional(properties.ResponseTopic is { } rt ? Encoding.UTF8.GetBytes(rt) : null),
            CorrelationData = Optional(properties.CorrelationData),
            ContentType = Optional(properties.ContentType is { } ct ? Encoding.UTF8.GetBytes(ct) : null),
            UserProperties = PropertyCodec.EncodeUserProperties(properties.UserProperties),
            SubscriptionIdentifiers = PropertyCodec.EncodeSubscriptionIdentifiers(properties.SubscriptionIdentifiers),
        };
    }

    // A null byte[] (even a bare null in "x ? null : memory") converts implicitly to an empty ReadOnlyMemory<byte>,
    // which would then count as a present, empty property. These keep "absent" absent.
    private static ReadOnlyMemory<byte>? Optional(byte[]? bytes) => bytes is null ? default(ReadOnlyMemory<byte>?) : bytes;

    private static ReadOnlyMemory<byte>? Copy(ReadOnlyMemory<byte>? memory) => memory is { } m ? m.ToArray() : default(ReadOnlyMemory<byte>?);

    private static bool OptionalEquals(ReadOnlyMemory<byte>? a, ReadOnlyMemory<byte>? b)
        => a is null ? b is null : b is not null && a.Value.Span.SequenceEqual(b.Value.Span);
}

/// A PUBLISH as a class, for code that handles packets generically (tests, clients, wills).
public sealed class PublishMessagePacket(PublishPacket publish) : MqttPacket
{
    public override PacketType Type => PacketType.Publish;

    public PublishPacket Publish { get; } = publish;
}
