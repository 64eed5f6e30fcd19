using Kirisame.Broker.Delivery;
using Kirisame.Broker.Diagnostics;
using Kirisame.Broker.Storage;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Broker.Sessions;

/// The state the broker keeps for one client id: subscriptions, QoS 1/2 messages not yet delivered or not
/// yet acknowledged, and inbound QoS 2 identifiers awaiting PUBREL. It outlives connections when the client
/// asked for a persistent session. Everything mutable here is guarded by <see cref="Sync"/>.
internal sealed class Session(string clientId, IBrokerStore? store = null) : IDropCounter
{
    private readonly IBrokerStore _store = store ?? InMemoryStore.Instance;

    public string ClientId { get; } = clientId;

    /// Where this session's changes are written: the only path from a session to the store.
    internal SessionJournal Journal => new(this, _store);

    /// The session itself, locked as a monitor: no lock object per session (an idle fleet holds one each).
    public object Sync => this;

    // The collections are made on first use: most sessions of an idle fleet never need some of them, and
    // together they would cost each connection about half a kilobyte. Has* tells without making one.
    private Dictionary<string, Subscription>? _subscriptions;
    private PendingQueue? _pending;
    private Dictionary<ushort, InflightMessage>? _inflight;
    private LinkedList<ushort>? _inflightOrder;
    private HashSet<ushort>? _inboundQoS2;

    /// Filter as sent → subscription. The tree indexes the same objects.
    public Dictionary<string, Subscription> Subscriptions => _subscriptions ??= new(StringComparer.Ordinal);

    public bool HasSubscriptions => _subscriptions is { Count: > 0 };

    /// Messages waiting for room in the in-flight window (or for the client to come back): in memory, and for a
    /// session whose queue the store keeps, beyond a window only in the store.
    public PendingQueue Pending => _pending ??= new();

    /// The pending queue if there is one (a read of the store that lands checks it is still the same queue).
    public PendingQueue? PendingOrNull => _pending;

    public bool HasPending => _pending is { Count: > 0 };

    /// Outbound QoS 1/2 messages sent and not yet completed, in send order, by packet id.
    public Dictionary<ushort, InflightMessage> Inflight => _inflight ??= [];

    public bool HasInflight => _inflight is { Count: > 0 };

    public int InflightCount => _inflight?.Count ?? 0;

    /// Insertion order of <see cref="Inflight"/>, for re-sending in order on resume.
    public LinkedList<ushort> InflightOrder => _inflightOrder ??= new();

    /// Inbound QoS 2 packet ids whose PUBREC was sent and PUBREL not yet received.
    public HashSet<ushort> InboundQoS2 => _inboundQoS2 ??= [];

    public bool HasInboundQoS2 => _inboundQoS2 is { Count: > 0 };

    /// Seconds the session lives after its connection closes; uint.MaxValue = forever; 0 = ends with the connection.
    public uint ExpiryInterval { get; set; }

    /// What holds this session (a connection from CONNECT until it closes, an in-process client); the session
    /// registry decides it.
    internal IDeliveryTarget? Owner { get; set; }

    /// Where deliveries go: set once CONNACK is queued, so nothing overtakes it.
    internal IDeliveryTarget? Target { get; set; }

    /// The fencing token of the claim that holds this session, or held it last (docs/adr/0008): set with
    /// <see cref="Owner"/> when a client attaches, kept when it lets go. A holder ends its hold, leaves a delayed
    /// will or ends the session only while this is still its own epoch, so a connection that finishes its
    /// clean-up after a newer one took the client id changes nothing. 0 for a session restored from the store
    /// and not held since. Written under the registry lock and <see cref="Sync"/>.
    internal long Epoch { get; set; }

    /// The epoch of a discarded session: above every claim's, so no holder matches it any more.
    private const long RetiredEpoch = long.MaxValue;

    /// Discarded (ended, expired, deleted, or replaced on clean start): the client id belongs to a newer session or
    /// to nobody, and this object, which a closing connection may still reference, writes nothing more to the
    /// store. Read under <see cref="Sync"/>.
    internal bool IsRetired => Epoch == RetiredEpoch;

    /// Marks the session discarded. Caller holds <see cref="Sync"/>, after the journal's last write.
    internal void Retire() => Epoch = RetiredEpoch;

    public bool IsConnected => Target is not null;

    /// When the connection went away (TimeProvider timestamp), for expiry.
    public long DisconnectedAtTicks { get; set; }

    /// Will to publish later (v5 Will Delay Interval), and when.
    public WillMessage? PendingWill { get; set; }

    public long PendingWillAtTicks { get; set; }

    public ProtocolVersion PendingWillVersion { get; set; }

    private DropCounts _drops;

    /// Messages dropped for this session since it began (every reason), and whether we are in a queue-full
    /// episode (logged once per episode).
    public long DroppedMessages => _drops.Total;

    /// Counts a message not delivered to this session. Any thread, with or without <see cref="Sync"/>.
    public void CountDrop(DropReason reason) => _drops.Add(reason);

    /// This session's drops by reason (read racily: counters, not a consistent snapshot).
    internal long DroppedFor(DropReason reason) => _drops[reason];

    internal IReadOnlyDictionary<DropReason, long> DropsByReason() => _drops.ToDictionary();

    public bool Dropping { get; set; }

    /// When a drop was last logged for this session (TimeProvider timestamp): a queue-full episode is logged when
    /// it begins and then at most once a minute, with the running total.
    public long DropLoggedAtTicks { get; set; }

    // Ingest back-pressure (see BackPressure): publishers waiting for this session to drain share one waiter, made
    // only when somebody waits.
    private TaskCompletionSource? _drained;
    private volatile bool _slow;

    /// Its client holds its deliveries up (see BackPressure): nobody waits for it, its queue limit applies.
    public bool Slow
    {
        get => _slow;
        set => _slow = value;
    }

    /// Somebody cares when this session drains: a waiting publisher, or a slow episode to end.
    public bool DrainWatched => _slow || Volatile.Read(ref _drained) is not null;

    /// Messages waiting to go out: those waiting for room in the in-flight window and those in the target's
    /// outbound queue. Read without <see cref="Sync"/>: an estimate, which is all back-pressure needs.
    /// Messages kept only in the store count: a session catching up on a deep queue is behind.
    public int Backlog => (_pending?.Count ?? 0) + (Target?.Backlog ?? 0);

    /// Bytes of <see cref="Backlog"/>, likewise an estimate.
    public long BacklogBytes => (_pending?.Bytes ?? 0) + (Target?.BacklogBytes ?? 0);

    /// Completes at the next <see cref="SignalDrained"/>.
    public Task DrainedTask() =>
        (Volatile.Read(ref _drained)
         ?? Interlocked.CompareExchange(ref _drained, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), null)
         ?? _drained!).Task;

    /// Wakes the publishers waiting for this session.
    public void SignalDrained() => Interlocked.Exchange(ref _drained, null)?.TrySetResult();

    private ushort _lastPacketId;

    /// Sequence number of the last queue entry made. Caller holds <see cref="Sync"/>.
    public long LastSequence { get; set; }

    /// Outlives its connection, so it is written to the store.
    public bool Durable => ExpiryInterval != 0;

    /// The store holds this session (its journal writes its changes there): from when it became durable, or was
    /// restored, until the journal deleted it. Set only by <see cref="SessionJournal"/>. It can outlast
    /// <see cref="Durable"/>: a session resumed with expiry 0 keeps its queue in the store until it ends.
    public bool InStore { get; set; }

    /// Forgets subscriptions, queues and in-flight state (the session is discarded). Caller holds <see cref="Sync"/>.
    public void Clear()
    {
        _subscriptions = null;
        _pending = null;
        _inflight = null;
        _inflightOrder = null;
        _inboundQoS2 = null;
    }

    /// Next free outbound packet id. Caller holds <see cref="Sync"/>.
    public ushort NextPacketId()
    {
        for (var i = 0; i < 65535; i++)
        {
            _lastPacketId = _lastPacketId == 65535 ? (ushort)1 : (ushort)(_lastPacketId + 1);
            if (_inflight is null || !_inflight.ContainsKey(_lastPacketId))
                return _lastPacketId;
        }

        return 0;
    }
}

internal sealed class InflightMessage(QueuedMessage queued, ushort packetId)
{
    public QueuedMessage Queued { get; } = queued;

    public ushort PacketId { get; } = packetId;

    public InflightState State { get; set; }
}
