using Kirisame.Broker.Delivery;

namespace Kirisame.Broker.Sessions;

/// Subscribers of one "$share/{name}/{filter}": each message goes to one of them.
public sealed class SharedGroup(string name, string topicFilter) : IDeliveryGroup
{
    private int _next;

    public string Name { get; } = name;

    public string TopicFilter { get; } = topicFilter;

    /// Replaced, never mutated, so publishers can read it without the tree's lock.
    internal Subscription[] Members { get; private set; } = [];

    internal bool Replace(Subscription subscription)
    {
        var members = Members;
        for (var i = 0; i < members.Length; i++)
        {
            if (members[i].Session == subscription.Session)
            {
                var copy = (Subscription[])members.Clone();
                copy[i] = subscription;
                Members = copy;
                return true;
            }
        }

        Members = [.. members, subscription];
        return false;
    }

    internal bool Remove(Session session)
    {
        var members = Members;
        var index = Array.FindIndex(members, s => s.Session == session);
        if (index < 0)
            return false;
        Members = [.. members[..index], .. members[(index + 1)..]];
        return true;
    }

    /// <see cref="Pick"/> among the members <paramref name="eligible"/> accepts (a cluster node choosing one of its own
    /// clients for a message another node gave this node's share of the group).
    internal Subscription? Pick(Func<Session, bool> eligible)
    {
        var members = Members;
        var start = members.Length == 0 ? 0 : (int)((uint)Interlocked.Increment(ref _next) % (uint)members.Length);
        Subscription? fallback = null;
        for (var i = 0; i < members.Length; i++)
        {
            var candidate = members[(start + i) % members.Length];
            if (!eligible(candidate.Session))
                continue;
            if (candidate.Session.IsConnected)
                return candidate;
            fallback ??= candidate;
        }

        return fallback;
    }

    /// Round-robin over members, skipping those whose session has no live connection while any has one.
    /// <paramref name="exclude"/> is never chosen (a member whose connection just went away).
    internal Subscription? Pick(Session? exclude = null)
    {
        var members = Members;
        if (members.Length == 0)
            return null;
        var start = (int)((uint)Interlocked.Increment(ref _next) % (uint)members.Length);
        Subscription? fallback = null;
        for (var i = 0; i < members.Length; i++)
        {
            var candidate = members[(start + i) % members.Length];
            if (candidate.Session == exclude)
                continue;
            if (candidate.Session.IsConnected)
                return candidate;
            fallback ??= candidate;
        }

        return fallback;
    }
}
