using Kirisame.Broker;
using Kirisame.Broker.Security;
using Kirisame.Broker.Sessions;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Topics;

namespace Kirisame.Cluster;

/// The filters of sessions that moved from this node to the link's node, still routed here (docs/adr/0020, "a session
/// moves with its client id"). The other nodes route a session's messages by the routes they last heard: for a moment
/// after the move they still send them here, and the new node's routes may reach them after this node's removal. A
/// session here (id "\0relay:" + the node; U+0000 keeps it on this node [MQTT-1.5.4-2]) holds those filters, so this
/// node's routes stay as they were, and its target (<see cref="RemoteNodeTarget"/> as a relay) sends what matches on
/// to the new node, those messages' acceptance waiting for it. The filters go once the new node's routes are everywhere
/// and what the other nodes had queued for this one before has arrived (<see cref="SessionMoves"/>: two rounds of
/// flushes), so that the duplicates a relay makes (a node that has the new route sends to both) are few.
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification =
    "Its semaphore has no wait handle (only WaitAsync is used); like its PeerLink it lives until the process ends.")]
internal sealed class RelayRoutes(ClusterNode node, PeerLink link)
{
    public const string SessionPrefix = "\0relay:";

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, int> _counts = new(StringComparer.Ordinal);
    private RemoteNodeTarget? _target;
    private Session? _session;
    private volatile bool _closed;

    private string SessionId => SessionPrefix + link.Address;

    private Subscriber Who => new(SessionId, null, AllowAll.Instance, V5: true, WantsReasonString: false);

    /// Routes <paramref name="filters"/> here to the other node, counted (several moved sessions may share one).
    /// Shared subscriptions are left out: their groups' other members take their messages.
    public async Task AddAsync(IEnumerable<string> filters)
    {
        await _gate.WaitAsync();
        try
        {
            if (_closed)
                return;
            var broker = node.Broker;
            if (_session is null)
            {
                _target = new RemoteNodeTarget(link, relay: true);
                _session = (await broker.AttachSessionAsync(_target, "cluster", SessionId, cleanStart: true, expiry: 0)).Session;
                if (_session is null)
                    return;
                broker.Resume(_session, _target);
            }

            List<string> added = [];
            foreach (var filter in filters.Where(f => !f.StartsWith(TopicRules.SharePrefix, StringComparison.Ordinal)))
            {
                _counts[filter] = _counts.GetValueOrDefault(filter) + 1;
                if (_counts[filter] == 1)
                    added.Add(filter);
            }

            // At QoS 0 like a node's session: routing hands the target every message at once (it sends on the message's QoS).
            if (added.Count > 0)
                broker.Subscribe(_session, Who, [.. added.Select(f => new TopicSubscription(f, QualityOfService.AtMostOnce, RetainAsPublished: true))], 0);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// Drops what <see cref="AddAsync"/> routed, once <paramref name="settled"/> completes.
    public async Task RemoveAfterAsync(Task settled, IReadOnlyList<string> filters)
    {
        await settled;
        await _gate.WaitAsync();
        try
        {
            if (_closed || _session is null)
                return;
            List<string> removed = [];
            foreach (var filter in filters.Where(_counts.ContainsKey))
            {
                if (--_counts[filter] == 0 && _counts.Remove(filter))
                    removed.Add(filter);
            }

            if (removed.Count > 0)
                node.Broker.Unsubscribe(_session, Who, removed);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// The link closes: the relay session goes with it.
    public void Close()
    {
        _closed = true;
        if (_session is { } session && _target is { } target)
        {
            target.Close();
            node.Broker.ReleaseSession(session, target, session.Epoch, will: null, ProtocolVersion.V500);
        }
    }
}
