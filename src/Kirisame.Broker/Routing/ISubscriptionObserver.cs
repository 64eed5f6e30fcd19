using Kirisame.Broker.Sessions;

namespace Kirisame.Broker.Routing;

/// Watches the subscription tree: a cluster node keeps from it the filters its clients hold, which the other nodes
/// route to it (docs/adr/0020). Called with the tree's lock held: queue and return, never call the broker.
internal interface ISubscriptionObserver
{
    /// A subscription was added (not one replaced by the same session's same filter).
    public void Added(Subscription subscription);

    public void Removed(Session session, string topicFilter, string? shareName);
}
