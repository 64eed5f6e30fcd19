using System.Collections.Concurrent;
using Kirisame.Broker.Sessions;
using Kirisame.Protocol;
using Kirisame.Protocol.Topics;

namespace Kirisame.Broker.Routing;

/// The index from topic filters to subscriptions: a trie on topic levels with '+' and '#' as ordinary keys.
/// Publishing asks <see cref="Match"/>, which answers from a per-topic cache without locking; the cache is
/// dropped whenever a subscription changes. Changes and cache misses take the tree's lock; publishes of
/// topics already seen never do.
internal sealed class SubscriptionTree
{
    private const int MaxCachedTopics = 100_000;

    private readonly Lock _lock = new();
    private readonly Node _root = new();
    private ConcurrentDictionary<string, MatchResult> _cache = new(StringComparer.Ordinal);
    private int _count;

    public int Count => Volatile.Read(ref _count);

    /// Told of every subscription added and removed (a cluster node's route table); null in a single node, where
    /// nothing more is done than this one check per SUBSCRIBE and UNSUBSCRIBE.
    private ISubscriptionObserver? _observer;

    /// Starts telling <paramref name="observer"/> of changes and returns the subscriptions there are now, both under
    /// the tree's lock, so that nothing added meanwhile is missed or counted twice.
    public List<Subscription> Observe(ISubscriptionObserver observer)
    {
        lock (_lock)
        {
            _observer = observer;
            var found = new List<Subscription>();
            Collect(_root, found);
            return found;
        }
    }

    private static void Collect(Node node, List<Subscription> found)
    {
        found.AddRange(node.Subscriptions);
        if (node.Shared is not null)
        {
            foreach (var group in node.Shared.Values)
                found.AddRange(group.Members);
        }

        if (node.Children is not null)
        {
            foreach (var child in node.Children.Values)
                Collect(child, found);
        }
    }

    /// Adds or replaces the session's subscription with the same filter. Returns true if one was replaced.
    public bool Add(Subscription subscription)
    {
        lock (_lock)
        {
            var node = Walk(subscription.TopicFilter, create: true)!;
            bool replaced;
            if (subscription.ShareName is { } shareName)
            {
                node.Shared ??= new Dictionary<string, SharedGroup>(StringComparer.Ordinal);
                if (!node.Shared.TryGetValue(shareName, out var group))
                    node.Shared[shareName] = group = new SharedGroup(shareName, subscription.TopicFilter);
                replaced = group.Replace(subscription);
            }
            else
            {
                replaced = Replace(node.Subscriptions, subscription);
            }

            if (!replaced)
            {
                _count++;
                _observer?.Added(subscription);
            }

            Invalidate();
            return replaced;
        }
    }

    public bool Remove(Session session, string topicFilter, string? shareName)
    {
        lock (_lock)
        {
            var path = new List<(Node Parent, string Key)>();
            var node = Walk(topicFilter, create: false, path);
            if (node is null)
                return false;
            bool removed;
            if (shareName is not null)
            {
                SharedGroup? group = null;
                removed = node.Shared is not null && node.Shared.TryGetValue(shareName, out group) && group.Remove(session);
                if (removed && group!.Members.Length == 0)
                {
                    // A group is kept only while it has members: queued messages that still name a removed group
                    // stay with their session when it goes (Pick finds no one else), as with a group of one.
                    node.Shared!.Remove(shareName);
                    if (node.Shared.Count == 0)
                        node.Shared = null;
                }
            }
            else
            {
                removed = node.Subscriptions.RemoveAll(s => s.Session == session) > 0;
            }

            if (removed)
            {
                _count--;
                _observer?.Removed(session, topicFilter, shareName);
                Prune(node, path);
                Invalidate();
            }

            return removed;
        }
    }

    /// Drops the nodes a removal left empty, from the filter's last level up: without it every filter ever
    /// subscribed would keep its nodes (half a kilobyte each) after its last subscriber left.
    private static void Prune(Node node, List<(Node Parent, string Key)> path)
    {
        for (var i = path.Count - 1; i >= 0 && node.IsEmpty; i--)
        {
            var (parent, key) = path[i];
            parent.Children!.Remove(key);
            if (parent.Children.Count == 0)
                parent.Children = null;
            node = parent;
        }
    }

    /// The live group for "$share/{shareName}/{topicFilter}", if it exists (a group exists while it has members).
    public SharedGroup? FindSharedGroup(string shareName, string topicFilter)
    {
        lock (_lock)
        {
            var node = Walk(topicFilter, create: false);
            return node?.Shared is not null && node.Shared.TryGetValue(shareName, out var group) ? group : null;
        }
    }

    /// The subscriptions matching <paramref name="topic"/>, grouped by session.
    public MatchResult Match(string topic)
    {
        var cache = _cache;
        if (cache.TryGetValue(topic, out var result))
            return result;
        lock (_lock)
        {
            result = Compute(topic);
        }

        if (cache.Count >= MaxCachedTopics)
            cache.Clear();
        cache.TryAdd(topic, result);
        return result;
    }

    private void Invalidate() => _cache = new ConcurrentDictionary<string, MatchResult>(StringComparer.Ordinal);

    private static bool Replace(List<Subscription> list, Subscription subscription)
    {
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i].Session == subscription.Session)
            {
                list[i] = subscription;
                return true;
            }
        }

        list.Add(subscription);
        return false;
    }

    /// The node of <paramref name="filter"/>, made on the way when <paramref name="create"/>; else null when it does
    /// not exist (nothing is made). <paramref name="path"/>, if given, receives each (parent, level) passed.
    private Node? Walk(string filter, bool create, List<(Node Parent, string Key)>? path = null)
    {
        var node = _root;
        foreach (var level in new TopicLevels(filter))
        {
            var key = level.ToString();
            if (node.Children is null || !node.Children.TryGetValue(key, out var child))
            {
                if (!create)
                    return null;
                node.Children ??= new Dictionary<string, Node>(StringComparer.Ordinal);
                node.Children[key] = child = new Node();
            }

            path?.Add((node, key));
            node = child;
        }

        return node;
    }

    private MatchResult Compute(string topic)
    {
        var found = new List<Subscription>();
        var groups = new List<SharedGroup>();
        var levels = topic.Split('/');
        Collect(_root, levels, 0, found, groups, dollar: topic.StartsWith('$'));
        return MatchResult.Build(found, groups);
    }

    private static void Collect(Node node, string[] levels, int index, List<Subscription> found, List<SharedGroup> groups, bool dollar)
    {
        if (node.Children is null)
            return;
        // [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic starting with '$'.
        var wildcardsAllowed = !(dollar && index == 0);
        if (wildcardsAllowed && node.Children.TryGetValue("#", out var hash))
            Gather(hash, found, groups);
        if (index == levels.Length)
            return;
        if (node.Children.TryGetValue(levels[index], out var exact))
            Visit(exact, levels, index + 1, found, groups, dollar);
        if (wildcardsAllowed && node.Children.TryGetValue("+", out var plus))
            Visit(plus, levels, index + 1, found, groups, dollar);
    }

    private static void Visit(Node node, string[] levels, int next, List<Subscription> found, List<SharedGroup> groups, bool dollar)
    {
        if (next == levels.Length)
        {
            Gather(node, found, groups);
            // "a/#" also matches "a": the '#' child of the last level.
            if (node.Children is not null && node.Children.TryGetValue("#", out var hash))
                Gather(hash, found, groups);
            return;
        }

        Collect(node, levels, next, found, groups, dollar);
    }

    private static void Gather(Node node, List<Subscription> found, List<SharedGroup> groups)
    {
        found.AddRange(node.Subscriptions);
        if (node.Shared is not null)
        {
            foreach (var group in node.Shared.Values)
            {
                if (group.Members.Length > 0)
                    groups.Add(group);
            }
        }
    }

    private sealed class Node
    {
        public Dictionary<string, Node>? Children;
        public readonly List<Subscription> Subscriptions = [];
        public Dictionary<string, SharedGroup>? Shared;

        public bool IsEmpty => Subscriptions.Count == 0 && Children is null && Shared is null;
    }
}

/// What one topic matches: per session the combined options of its matching subscriptions (v3: one
/// delivery at the highest QoS; v5: one delivery carrying every Subscription Identifier), and the shared groups.
internal sealed class MatchResult
{
    public static readonly MatchResult Empty = new([], []);

    private MatchResult(SessionMatch[] sessions, SharedGroup[] groups)
    {
        Sessions = sessions;
        SharedGroups = groups;
    }

    public SessionMatch[] Sessions { get; }

    public SharedGroup[] SharedGroups { get; }

    /// The same sessions without the shared groups: a cluster node routing what another node forwarded, whose groups
    /// that node served already (docs/adr/0020). Allocates; never on a single node's path.
    internal MatchResult WithoutSharedGroups() => SharedGroups.Length == 0 ? this : new MatchResult(Sessions, []);

    internal static MatchResult Build(List<Subscription> found, List<SharedGroup> groups)
    {
        if (found.Count == 0 && groups.Count == 0)
            return Empty;
        var bySession = new Dictionary<Session, (Aggregate All, Aggregate Remote)>();
        foreach (var s in found)
        {
            bySession.TryGetValue(s.Session, out var entry);
            entry.All = entry.All.With(s);
            // No Local: not sent back to the client that published it [MQTT-3.8.3-3].
            if (!s.Options.NoLocal)
                entry.Remote = entry.Remote.With(s);
            bySession[s.Session] = entry;
        }

        var sessions = new SessionMatch[bySession.Count];
        var i = 0;
        foreach (var (session, (all, remote)) in bySession)
            sessions[i++] = new SessionMatch(session, all, remote);
        return new MatchResult(sessions, [.. groups]);
    }
}

/// One session's matching subscriptions combined. <see cref="All"/> applies to messages from other
/// clients, <see cref="Own"/> to messages the session itself published (No Local subscriptions left out).
internal readonly record struct SessionMatch(Session Session, Aggregate All, Aggregate Own);

internal readonly record struct Aggregate(bool Any, QualityOfService MaximumQoS, bool RetainAsPublished, uint[] SubscriptionIds)
{
    public Aggregate With(Subscription s) => new(
        true,
        !Any || s.GrantedQoS > MaximumQoS ? s.GrantedQoS : MaximumQoS,
        RetainAsPublished || s.Options.RetainAsPublished,
        s.SubscriptionId == 0 ? SubscriptionIds ?? [] : [.. SubscriptionIds ?? [], s.SubscriptionId]);
}
