using Kirisame.Protocol;

namespace Kirisame.Broker.Delivery;

/// A message queued for one session with the delivery details fixed at match time.
/// <see cref="Sequence"/> orders a session's queue, in memory and in the store.
public readonly record struct QueuedMessage(BrokerMessage Message, QualityOfService QoS, bool Retain, uint[] SubscriptionIds, IDeliveryGroup? Group = null, long Sequence = 0);

public enum InflightState : byte
{
    /// PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    AwaitingAck,

    /// PUBREL sent, waiting for PUBCOMP.
    AwaitingComp,
}

/// The shared subscription group ("$share/{name}/{filter}") a queued message was delivered through, as the store
/// and the queues see it: by name and filter. The broker's live group (Sessions.SharedGroup) implements it; a
/// group read back from the store is matched to the live one by these two.
public interface IDeliveryGroup
{
    public string Name { get; }

    public string TopicFilter { get; }
}
