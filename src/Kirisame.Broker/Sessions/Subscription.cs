using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Broker.Sessions;

/// One subscription of one session. The session owns it; the tree indexes it.
internal sealed class Subscription(Session session, string filter, string topicFilter, string? shareName, TopicSubscription options, uint subscriptionId)
{
    public Session Session { get; } = session;

    /// As the client sent it, "$share/…" included.
    public string Filter { get; } = filter;

    /// The filter matched against topics ("$share/g/" removed).
    public string TopicFilter { get; } = topicFilter;

    public string? ShareName { get; } = shareName;

    public TopicSubscription Options { get; } = options;

    /// v5 Subscription Identifier, 0 when none.
    public uint SubscriptionId { get; } = subscriptionId;

    /// The identifier as the array a delivery carries, made once.
    public uint[] SubscriptionIds { get; } = subscriptionId == 0 ? [] : [subscriptionId];

    public QualityOfService GrantedQoS => Options.MaximumQoS;
}
