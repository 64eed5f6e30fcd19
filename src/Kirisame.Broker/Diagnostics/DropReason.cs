namespace Kirisame.Broker.Diagnostics;

/// Why a message was not delivered, as the `reason` tag of kirisame.messages.dropped says it (docs/metrics.md).
/// A message that matches no subscription is not dropped: nobody wanted it. The publish rate limit drops nothing
/// either (it pauses reading from the publisher, or disconnects it with 0x96), so it is not a reason here.
/// The numbers index counters: append, never reorder.
public enum DropReason
{
    /// A subscriber's queue was full (Broker:MaxQueuedMessages / MaxQueuedBytes); for QoS 1/2 the oldest queued
    /// message made room.
    QueueFull,

    /// The Message Expiry Interval ran out before the message could be sent [MQTT-3.3.2-5].
    Expired,

    /// Larger than the subscriber's Maximum Packet Size [MQTT-3.1.2-25].
    TooLarge,

    /// Refused on the way in: the ACL, or a $SYS topic from a client.
    NotAuthorized,

    /// Refused on the way in: the topic is over Broker:MaxTopicLength or MaxTopicLevels.
    TopicInvalid,

    /// Refused on the way in: declared UTF-8 (Payload Format Indicator 1) but is not.
    PayloadFormatInvalid,

    /// Refused on the way in: QoS 1/2 while the store cannot write (0x97).
    StorageUnavailable,

    /// Refused on the way in: the tenant is over a quota (message rate 0x96, queued or retained bytes 0x97).
    TenantQuota,
}

/// The names of drop reasons as the meter's `reason` tag, $SYS and the management API write them (snake case).
public static class DropReasonNames
{
    private static readonly string[] s_names = [.. Enum.GetValues<DropReason>().Select(r => BrokerMetrics.TagValue(r.ToString()))];

    /// QueueFull → "queue_full".
    public static string Of(DropReason reason) => s_names[(int)reason];
}
