using Kirisame.Broker.Routing;
using Kirisame.Broker.Sessions;

namespace Kirisame.Cluster;

/// The filters this node's clients hold, counted, so that the other nodes hear only of changes to the set: the first
/// subscriber of a filter and the last one leaving (docs/adr/0020). Subscriptions of the sessions standing for other
/// nodes are not this node's. A shared subscription is announced as the route "$share/{group}/{filter}": this node has
/// members of that group, and the other nodes count it as one member of theirs.
internal sealed class LocalRoutes(Func<IEnumerable<PeerLink>> peers) : ISubscriptionObserver
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _counts = new(StringComparer.Ordinal);

    public void Start(IEnumerable<Subscription> existing)
    {
        foreach (var subscription in existing)
            Added(subscription);
    }

    public void Added(Subscription subscription)
    {
        if (!Counts(subscription.Session))
            return;
        lock (_lock)
        {
            var filter = Route(subscription.TopicFilter, subscription.ShareName);
            _counts[filter] = _counts.GetValueOrDefault(filter) + 1;
            if (_counts[filter] == 1)
            {
                foreach (var peer in peers())
                    peer.EnqueueRoute(filter, added: true);
            }
        }
    }

    public void Removed(Session session, string topicFilter, string? shareName)
    {
        if (!Counts(session))
            return;
        topicFilter = Route(topicFilter, shareName);
        lock (_lock)
        {
            if (!_counts.TryGetValue(topicFilter, out var count))
                return;
            if (count > 1)
            {
                _counts[topicFilter] = count - 1;
                return;
            }

            _counts.Remove(topicFilter);
            foreach (var peer in peers())
                peer.EnqueueRoute(topicFilter, added: false);
        }
    }

    private static bool Counts(Session session) => !session.ClientId.StartsWith(ClusterNode.NodeSessionPrefix, StringComparison.Ordinal);

    private static string Route(string topicFilter, string? shareName) =>
        shareName is null ? topicFilter : $"{Protocol.Topics.TopicRules.SharePrefix}{shareName}/{topicFilter}";

    /// The whole set, for <paramref name="peer"/>'s next batch; changes queued after it follow it.
    public List<string> SnapshotFor(PeerLink peer)
    {
        lock (_lock)
        {
            peer.RoutesSnapshotTaken();
            return [.. _counts.Keys];
        }
    }
}
