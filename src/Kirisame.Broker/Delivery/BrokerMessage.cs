using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Broker.Delivery;

/// An accepted application message, owned by the broker. The payload is copied once from the
/// publisher's buffer and then shared, read-only, by every subscriber and queue that holds it.
public sealed class BrokerMessage
{
    public BrokerMessage(string topic, ReadOnlyMemory<byte> topicUtf8, ReadOnlyMemory<byte> payload, QualityOfService qos, bool retain,
        PublishProperties properties, string? senderClientId, long receivedAtTicks)
    {
        Topic = topic;
        TopicUtf8 = topicUtf8;
        Payload = payload;
        QoS = qos;
        Retain = retain;
        Properties = properties;
        SenderClientId = senderClientId;
        ReceivedAtTicks = receivedAtTicks;
    }

    public string Topic { get; }

    public ReadOnlyMemory<byte> TopicUtf8 { get; }

    public ReadOnlyMemory<byte> Payload { get; }

    public QualityOfService QoS { get; }

    /// The RETAIN flag the publisher set.
    public bool Retain { get; }

    /// Properties to forward (v5). Topic Alias and Subscription Identifiers are never stored here:
    /// they belong to one connection or one subscription.
    public PublishProperties Properties { get; }

    public string? SenderClientId { get; }

    /// TimeProvider timestamp at which the broker accepted the message (for Message Expiry).
    public long ReceivedAtTicks { get; }

    public int Size => TopicUtf8.Length + Payload.Length;

    /// Seconds left of the Message Expiry Interval, or null when the message never expires; 0 once expired.
    public uint? RemainingExpiry(TimeProvider time)
    {
        if (Properties.MessageExpiryInterval is not { } interval)
            return null;
        var elapsed = time.GetElapsedTime(ReceivedAtTicks).TotalSeconds;
        return elapsed >= interval ? 0 : interval - (uint)elapsed;
    }

    public bool IsExpired(TimeProvider time) => RemainingExpiry(time) == 0;
}
