using Kirisame.Broker;
using Kirisame.Broker.Delivery;
using Kirisame.Broker.Security;
using Kirisame.Broker.Sessions;
using Kirisame.Cluster.Grains;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Microsoft.Extensions.Logging;

namespace Kirisame.Cluster;

/// This node's link to one other node, both ways:
/// - outward, what is to be sent there (route changes, messages, retained changes, wills), gathered while the previous
///   call is on its way and sent as one <see cref="NodeBatch"/> by one sender loop, so that it arrives in order;
/// - inward, the session that holds that node's filters here (<see cref="RemoteNodeTarget"/>).
/// A failed call is sent again, with the routes and wills as snapshots, until it succeeds or the node is declared
/// dead; then its QoS 1/2 messages are given up (their subscribers died with the node), or with a shared store held for
/// the node that takes its sessions up (PeerLink.Close.cs).
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification =
    "Its semaphore (no wait handle) and token source (no timer) hold nothing unmanaged; routing may still signal a link whose node just left, so it is never disposed.")]
internal sealed partial class PeerLink(ClusterNode node, string address, INodeInbox inbox)
{
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly CancellationTokenSource _closed = new();
    private readonly HashSet<string> _remoteFilters = new(StringComparer.Ordinal);
    private readonly Lock _remoteLock = new();
    /// The other node's shared routes ("$share/g/f"), each subscribed here with a Subscription Identifier of its own,
    /// by which <see cref="RemoteNodeTarget"/> knows that routing picked this node as the group's member.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<uint, SharedDelivery> _sharedRoutes = new();
    private readonly Dictionary<string, uint> _sharedIds = new(StringComparer.Ordinal);
    private uint _lastSharedId;
    /// Route and will changes for the next batch (its messages come from <see cref="_chunks"/>).
    private NodeBatch _pending = new();

    /// Messages waiting, cut into chunks of about <see cref="ChunkBytes"/>: a batch carries one, so that no call grows
    /// past what Orleans takes in one message (100 MB) however far behind the link is.
    private readonly Queue<Chunk> _chunks = new();
    private Chunk? _open;
    private bool _routesSnapshotDue = true;
    private bool _willsSnapshotDue = true;
    private int _signalled;
    private volatile bool _sending;
    private volatile Chunk? _inFlight;
    private Session? _session;

    private const int ChunkBytes = 1 << 20;

    /// What the last chunk taken held: the next one starts in an array that size (pooled, so a busy link does not grow
    /// every chunk anew, and a quiet one does not hold a 1 MiB array for a few messages).
    private int _lastChunkBytes;

    private sealed class Chunk(int capacity)
    {
        public readonly ChunkBuffer Bytes = new(Math.Clamp(capacity, 4096, ChunkBytes + (ChunkBytes >> 4)));
        public readonly List<long> Sequences = [];
        public readonly List<string> RemovedAfter = [];
        public readonly List<SharedDelivery> Shared = [];
        public readonly List<int> Relayed = [];
        public int Count;
    }

    /// Messages queued for the other node and not yet accepted by it: back-pressure (docs/adr/0009) holds the
    /// publishers back when they grow, as for any consumer.
    public LinkBacklog Backlog { get; } = new();

    public int MaxQueuedMessages => node.Broker.Options.MaxQueuedMessages;

    /// The other node's silo address with its generation.
    public string Address { get; } = address;

    public DateTimeOffset Since { get; } = DateTimeOffset.UtcNow;

    public RemoteNodeTarget Target => LazyInitializer.EnsureInitialized(ref _target, () => new RemoteNodeTarget(this)); // one instance however many threads ask first

    private RemoteNodeTarget? _target;

    /// The filters of sessions that moved from here to the other node, relayed there for a while.
    public RelayRoutes Relay => LazyInitializer.EnsureInitialized(ref _relay, () => new RelayRoutes(node, this));

    private RelayRoutes? _relay;

    /// The other node's clients and their wills, as it last told (published here if it dies and this node is chosen).
    public Dictionary<string, WillEntry> Wills { get; } = new(StringComparer.Ordinal);

    private string SessionId => ClusterNode.NodeSessionPrefix + Address;

    /// Attaches the session that stands for the other node and starts sending.
    public async Task StartAsync()
    {
        var broker = node.Broker;
        var attachment = await broker.AttachSessionAsync(Target, "cluster", SessionId, cleanStart: true, expiry: 0);
        _session = attachment.Session;
        if (_session is not null)
            broker.Resume(_session, Target);
        _ = Task.Run(SendLoopAsync);
        Signal();
    }

    /// The session standing for the other node here.
    public Session? Session => _session;

    public bool IsClosed => _closed.IsCancellationRequested;

    /// Waits (up to <paramref name="timeout"/>) until everything queued has been sent: a node shutting down tells the
    /// others its clients let go (their wills were published here) before its links close.
    public async Task DrainAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline && !IsClosed)
        {
            lock (_lock)
            {
                if (!_sending && _chunks.Count == 0 && _pending.IsEmpty && !_routesSnapshotDue && !_willsSnapshotDue)
                    return;
            }

            await Task.Delay(20);
        }
    }

    // ---- outward ----

    public void Enqueue(BrokerMessage message, SharedDelivery? group = null) => _ = EnqueueForward(message, group);

    /// Queues a message; returns its forward number (0 for QoS 0), which is done once the other node accepted it.
    public long EnqueueForward(BrokerMessage message, SharedDelivery? group = null, bool relayed = false)
    {
        long sequence = 0;
        var properties = message.Properties;
        if (message.RemainingExpiry(node.Broker.TimeProvider) is { } remaining)
            properties = properties with { MessageExpiryInterval = remaining }; // [MQTT-3.3.2-6]: the time waited here counts
        lock (_lock)
        {
            if (_ended)
                return 0; // routed as the link ended: the node's routes are gone, and the message went where they went
            var chunk = OpenChunkLocked();
            var before = chunk.Bytes.WrittenCount;
            PublishPackets.Write(chunk.Bytes, message, properties);
            if (group is not null)
                chunk.Shared.Add(group with { Index = chunk.Count });
            if (relayed)
                chunk.Relayed.Add(chunk.Count);
            chunk.Count++;
            if (message.QoS != QualityOfService.AtMostOnce)
                chunk.Sequences.Add(sequence = node.Forwards.Next());
            Backlog.Queued(chunk.Bytes.WrittenCount - before, behind: _chunks.Peek() != chunk); // held until TakeLocked moves it up
        }

        Signal();
        return sequence;
    }

    /// Applied after the messages queued before it, and before those after it (which go into the next chunk).
    public void EnqueueRetainedRemoval(string topic)
    {
        lock (_lock)
        {
            OpenChunkLocked().RemovedAfter.Add(topic);
            _open = null;
        }

        Signal();
    }

    private Chunk OpenChunkLocked()
    {
        if (_open is null || _open.Bytes.WrittenCount >= ChunkBytes)
        {
            _open = new Chunk(_lastChunkBytes);
            _chunks.Enqueue(_open);
        }

        return _open;
    }

    /// A route change; the caller holds the node's route lock, so changes arrive in the order they happened.
    public void EnqueueRoute(string filter, bool added)
    {
        lock (_lock)
        {
            // Each filter is in one list at most, with its last change: the two lists then apply in any order.
            if (!_routesSnapshotDue)
            {
                (added ? _pending.RemovedFilters : _pending.AddedFilters).Remove(filter);
                (added ? _pending.AddedFilters : _pending.RemovedFilters).Add(filter);
            }
        }

        Signal();
    }

    /// A will change; the caller holds the node's lock of held clients.
    public void EnqueueWill(WillEntry entry)
    {
        lock (_lock)
        {
            if (!_willsSnapshotDue)
                _pending.Wills.Add(entry);
        }

        Signal();
    }

    private void Signal()
    {
        if (Interlocked.Exchange(ref _signalled, 1) == 0)
            _signal.Release();
    }

    private async Task SendLoopAsync()
    {
        var token = _closed.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                await _signal.WaitAsync(token);
                Volatile.Write(ref _signalled, 0);
                _sending = true;
                var (batch, chunk) = Take();
                if (batch.IsEmpty)
                {
                    _sending = false;
                    continue;
                }

                _inFlight = chunk;
                if (chunk is not null && _session is { } taken)
                    node.Broker.BackPressure.Drained(taken); // the held messages moved up: publishers waiting for this node go on
                var firstTry = await SendAsync(batch, chunk?.Sequences ?? [], token);
                Interlocked.Increment(ref _accepted);
                if (chunk is not null)
                    Backlog.Sent(chunk.Count, chunk.Bytes.WrittenCount);

                lock (_lock)
                {
                    // Under the lock, as CloseAsync reads _inFlight: a closing link may still read this chunk's bytes.
                    _inFlight = null;
                    if (firstTry && !IsClosed)
                        chunk?.Bytes.Release();
                }

                _sending = false;
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            node.Logger.LogError(ex, "Cluster: the link to node {Node} failed", Address);
        }
    }

    /// What has gathered, as one batch. Snapshots are taken under the node's locks, which route and will changes
    /// are queued under too: nothing changes between a snapshot and the changes queued after it.
    private (NodeBatch Batch, Chunk? Chunk) Take()
    {
        bool routesDue, willsDue;
        lock (_lock)
        {
            routesDue = _routesSnapshotDue;
            willsDue = _willsSnapshotDue;
        }

        List<string>? routes = null;
        if (routesDue)
            routes = node.Routes.SnapshotFor(this);
        List<WillEntry>? wills = null;
        if (willsDue)
            wills = node.HeldSnapshotFor(this);
        return TakeLocked(routes, wills);
    }

    private (NodeBatch, Chunk?) TakeLocked(List<string>? routes, List<WillEntry>? wills)
    {
        lock (_lock)
        {
            // The changes queued since a snapshot was taken follow it (taking it cleared those before).
            var batch = _pending;
            batch.RouteSnapshot = routes;
            batch.WillSnapshot = wills;

            batch.From = node.Self;
            _pending = new NodeBatch();
            if (!batch.IsEmpty || _chunks.Count > 0)
                _taken++;
            if (!_chunks.TryDequeue(out var chunk))
                return (batch, null);
            if (chunk == _open)
                _open = null;
            batch.Messages = chunk.Bytes.WrittenMemory;
            _lastChunkBytes = chunk.Bytes.WrittenCount;
            batch.RetainedRemoved = chunk.RemovedAfter;
            batch.Shared = chunk.Shared;
            batch.Relayed = chunk.Relayed;
            if (_chunks.TryPeek(out var next))
                Backlog.MovedUp(next.Count, next.Bytes.WrittenCount);
            if (_chunks.Count > 0)
                Signal(); // more to send: the loop comes round again at once
            return (batch, chunk);
        }
    }

    /// Sends until the call succeeds; true when the first try did.
    private async Task<bool> SendAsync(NodeBatch batch, List<long> sequences, CancellationToken token)
    {
        var failures = 0;
        while (true)
        {
            try
            {
                await inbox.Receive(batch).WaitAsync(token);
                node.Forwards.Done(sequences);
                return failures == 0;
            }
            catch (Exception ex) when (!token.IsCancellationRequested)
            {
                if (failures++ == 0)
                    node.Logger.LogWarning("Cluster: sending to node {Node} failed ({Error}); retrying until it answers or is declared dead", Address, ex.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(200), token);
                // The failed call may or may not have been applied: the next try carries routes and wills whole, as
                // they are now — newer than the changes the batch had, which are dropped (changes queued meanwhile
                // for the next batch are cleared by the snapshot too: it includes them).
                batch.RouteSnapshot = node.Routes.SnapshotFor(this);
                batch.AddedFilters.Clear();
                batch.RemovedFilters.Clear();
                batch.WillSnapshot = node.HeldSnapshotFor(this);
                batch.Wills.Clear();
            }
        }
    }

    /// Marks the next batch as snapshots. Called under the node's route (or held-client) lock, as the snapshot taken
    /// then will be: changes queued from here on follow it.
    public void RoutesSnapshotTaken()
    {
        lock (_lock)
        {
            _routesSnapshotDue = false;
            _pending.AddedFilters.Clear();
            _pending.RemovedFilters.Clear();
        }
    }

    public void WillsSnapshotTaken()
    {
        lock (_lock)
        {
            _willsSnapshotDue = false;
            _pending.Wills.Clear();
        }
    }

    // ---- inward ----

    /// The topic names of the messages that node sends (<see cref="ClusterNode.ReceiveAsync"/>).
    public TopicNames Topics { get; } = new();

    /// The other node's routes: its session here subscribes to what that node's clients hold.
    public void ApplyRoutes(NodeBatch batch)
    {
        if (_session is not { } session)
            return;
        var broker = node.Broker;
        var who = new Subscriber(SessionId, null, AllowAll.Instance, V5: true, WantsReasonString: false);
        List<string> add;
        List<string> remove;
        lock (_remoteLock)
        {
            if (batch.RouteSnapshot is { } snapshot)
            {
                var wanted = new HashSet<string>(snapshot, StringComparer.Ordinal);
                wanted.ExceptWith(batch.RemovedFilters);
                wanted.UnionWith(batch.AddedFilters);
                remove = [.. _remoteFilters.Where(f => !wanted.Contains(f))];
                add = [.. wanted.Where(f => !_remoteFilters.Contains(f))];
            }
            else
            {
                remove = [.. batch.RemovedFilters.Where(_remoteFilters.Contains)];
                add = [.. batch.AddedFilters.Where(f => !_remoteFilters.Contains(f))];
            }

            _remoteFilters.ExceptWith(remove);
            _remoteFilters.UnionWith(add);
        }

        if (remove.Count > 0)
        {
            broker.Unsubscribe(session, who, remove);
            lock (_remoteLock)
            {
                foreach (var filter in remove)
                {
                    if (_sharedIds.Remove(filter, out var id))
                        _sharedRoutes.TryRemove(id, out _);
                }
            }
        }

        var plain = add.Where(f => !f.StartsWith(Protocol.Topics.TopicRules.SharePrefix, StringComparison.Ordinal)).ToList();
        if (plain.Count > 0)
            Subscribe(broker, session, who, plain, 0);
        // A shared route: this node's session becomes one member of the group here, under an id of its own.
        foreach (var filter in add.Where(f => f.StartsWith(Protocol.Topics.TopicRules.SharePrefix, StringComparison.Ordinal)))
        {
            if (!Protocol.Topics.TopicRules.TryParseShared(filter, out var shareName, out var topicFilter))
                continue;
            uint id;
            lock (_remoteLock)
            {
                id = ++_lastSharedId;
                _sharedIds[filter] = id;
                _sharedRoutes[id] = new SharedDelivery(0, shareName, topicFilter);
            }

            Subscribe(broker, session, who, [filter], id);
        }
    }

    /// The group of the shared route subscribed under <paramref name="subscriptionId"/>, if it is one.
    public SharedDelivery? SharedRoute(uint subscriptionId) => _sharedRoutes.GetValueOrDefault(subscriptionId);

    private void Subscribe(MqttBroker broker, Session session, Subscriber who, List<string> filters, uint subscriptionId)
    {
        // RETAIN as published: a retained message without a payload (a removal) must arrive as one.
        var outcome = broker.Subscribe(session, who, [.. filters.Select(f => new TopicSubscription(f, QualityOfService.AtMostOnce, RetainAsPublished: true))],
            subscriptionId);
        for (var i = 0; i < outcome.Codes.Count; i++)
        {
            if (ReasonCodes.IsError(outcome.Codes[i]))
                node.Logger.LogWarning("Cluster: cannot route {Filter} to node {Node}: {Reason}", filters[i], Address, outcome.Codes[i]);
        }
    }

    public void ApplyWills(NodeBatch batch)
    {
        lock (Wills)
        {
            if (batch.WillSnapshot is { } snapshot)
            {
                Wills.Clear();
                foreach (var entry in snapshot)
                    Wills[entry.ClientId] = entry;
            }

            foreach (var entry in batch.Wills)
            {
                if (entry.Will is null)
                {
                    if (Wills.TryGetValue(entry.ClientId, out var known) && known.Epoch <= entry.Epoch)
                        Wills.Remove(entry.ClientId);
                }
                else
                {
                    Wills[entry.ClientId] = entry;
                }
            }
        }
    }
}
