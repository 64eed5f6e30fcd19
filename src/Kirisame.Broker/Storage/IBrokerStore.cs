using Kirisame.Broker.Delivery;

namespace Kirisame.Broker.Storage;

/// The storage seam: everything the broker must remember across a restart passes through here as it
/// changes. Only persistent sessions (Session Expiry Interval ≠ 0) and retained messages are written.
///
/// Writes are queued, not awaited: an implementation batches them (group commit). <see cref="Mark"/> names
/// the point reached so far, and <see cref="WhenDurable"/> calls back once everything up to a mark is on
/// disk; the broker sends PUBACK/PUBREC for a QoS 1/2 message only then (in the durable modes).
///
/// Calls for one session come with that session's lock held, so they arrive in the order they happened.
/// Implementations must not call back into the broker from these methods.
public interface IBrokerStore : IAsyncDisposable
{
    /// Everything stored, read once at start-up before any connection is served. A store that reads queues back
    /// (<see cref="ReadsQueues"/>) leaves out the pending entries of session queues (those not in flight) and
    /// only counts them (<see cref="StoredSession.StoredPendingCount"/>): they are read when their client returns.
    public StoredState Load();

    public void PutSession(in SessionRecord session);

    /// Removes the session with its subscriptions, queue and inbound QoS 2 state.
    public void DeleteSession(string clientId);

    public void PutSubscription(string clientId, in SubscriptionRecord subscription);

    public void DeleteSubscription(string clientId, string filter);

    public void PutRetained(BrokerMessage message);

    public void DeleteRetained(string topic);

    /// Adds or updates one entry of a session's queue: pending (packet id 0) or in flight with its state.
    /// The message body is stored once however many queues hold it.
    public void PutQueued(string clientId, in QueuedMessage queued, ushort packetId, InflightState state);

    public void DeleteQueued(string clientId, long sequence, BrokerMessage message);

    public void PutInboundQoS2(string clientId, ushort packetId);

    public void DeleteInboundQoS2(string clientId, ushort packetId);

    /// True when the store can read a session's queue back (<see cref="ReadQueuedAsync"/>): the broker then keeps
    /// only a window of a persistent session's queue in memory and leaves the rest to the store (docs/adr/0010).
    /// A store that cannot (the in-memory one) has every queued message in the broker's memory.
    public bool ReadsQueues => false;

    /// Reads pending entries (packet id 0) of a session's queue with a sequence of <paramref name="fromSequence"/>
    /// or more, in sequence order: at most <paramref name="maxMessages"/>, and no more once
    /// <paramref name="maxBytes"/> of messages (<see cref="BrokerMessage.Size"/>) have been read — at least one
    /// entry when there is any. The result reflects every write queued before the call. Returns nothing for a store
    /// that does not read queues back.
    public ValueTask<IReadOnlyList<QueuedMessage>> ReadQueuedAsync(string clientId, long fromSequence, int maxMessages, long maxBytes) =>
        ValueTask.FromResult<IReadOnlyList<QueuedMessage>>([]);

    /// The position of the last write queued so far.
    public long Mark();

    /// True when every write up to <paramref name="mark"/> is durable (always, for a store that is not).
    public bool IsDurable(long mark);

    /// Calls <paramref name="callback"/> once every write up to <paramref name="mark"/> is durable — on
    /// another thread, in mark order.
    public void WhenDurable(long mark, Action<object?> callback, object? state);

    /// False while writes fail (disk full, I/O error): new QoS 1/2 messages cannot be made durable and are
    /// refused; QoS 0 routing goes on.
    public bool Healthy => true;
}

/// What <see cref="IBrokerStore.Load"/> returns.
public sealed class StoredState
{
    public static readonly StoredState Empty = new();

    public List<StoredSession> Sessions { get; } = [];

    public List<BrokerMessage> Retained { get; } = [];
}

public sealed class StoredSession(string clientId)
{
    public string ClientId { get; } = clientId;

    public uint ExpiryInterval { get; set; }

    /// Wall-clock time the connection went away (Unix ms), so expiry continues across the outage.
    public long DisconnectedAtUnixMs { get; set; }

    public Kirisame.Protocol.Packets.WillMessage? PendingWill { get; set; }

    public long PendingWillAtUnixMs { get; set; }

    public Kirisame.Protocol.ProtocolVersion PendingWillVersion { get; set; } = Kirisame.Protocol.ProtocolVersion.V500;

    /// The highest queue sequence the session has used (at least that of its last queue entry); numbering
    /// continues after it.
    public long LastSequence { get; set; }

    public List<(string Filter, Kirisame.Protocol.Packets.TopicSubscription Options, uint SubscriptionId)> Subscriptions { get; } = [];

    /// Queue entries in order: message, delivery details, and for in-flight ones their packet id and state. A store
    /// that reads queues back lists only the entries in flight here.
    public List<(QueuedMessage Queued, ushort PacketId, InflightState State)> Queue { get; } = [];

    /// Pending entries the store kept and did not load (see <see cref="IBrokerStore.Load"/>): how many, the
    /// <see cref="BrokerMessage.Size"/> of their messages together, and the lowest sequence among them.
    public int StoredPendingCount { get; set; }

    public long StoredPendingBytes { get; set; }

    public long StoredPendingFrom { get; set; }

    public List<ushort> InboundQoS2 { get; } = [];

    /// Reads the pending entries the store kept and did not load into <see cref="Queue"/>, after what it holds: a session
    /// leaving its store whole (handed to another cluster node, or taken up from a dead one's store).
    public async Task ReadStoredPendingAsync(IBrokerStore store)
    {
        const int batchSize = 1024;
        while (StoredPendingCount > 0)
        {
            var batch = await store.ReadQueuedAsync(ClientId, StoredPendingFrom, batchSize, long.MaxValue).ConfigureAwait(false);
            if (batch.Count == 0)
                break;
            foreach (var queued in batch)
                Queue.Add((queued, 0, InflightState.AwaitingAck));
            StoredPendingCount -= batch.Count;
            StoredPendingFrom = batch[^1].Sequence + 1;
            LastSequence = Math.Max(LastSequence, batch[^1].Sequence);
        }

        StoredPendingCount = 0;
        StoredPendingBytes = 0;
    }
}

/// The store for tests and --in-memory: the broker's own structures are the only state, nothing survives.
public sealed class InMemoryStore : IBrokerStore
{
    public static readonly InMemoryStore Instance = new();

    public StoredState Load() => StoredState.Empty;

    public void PutSession(in SessionRecord session)
    {
    }

    public void DeleteSession(string clientId)
    {
    }

    public void PutSubscription(string clientId, in SubscriptionRecord subscription)
    {
    }

    public void DeleteSubscription(string clientId, string filter)
    {
    }

    public void PutRetained(BrokerMessage message)
    {
    }

    public void DeleteRetained(string topic)
    {
    }

    public void PutQueued(string clientId, in QueuedMessage queued, ushort packetId, InflightState state)
    {
    }

    public void DeleteQueued(string clientId, long sequence, BrokerMessage message)
    {
    }

    public void PutInboundQoS2(string clientId, ushort packetId)
    {
    }

    public void DeleteInboundQoS2(string clientId, ushort packetId)
    {
    }

    /// Nothing is kept, so nothing can be read back: the broker holds whole queues in memory (and applies
    /// Broker:MaxQueuedMessages to them).
    public bool ReadsQueues => false;

    public ValueTask<IReadOnlyList<QueuedMessage>> ReadQueuedAsync(string clientId, long fromSequence, int maxMessages, long maxBytes) =>
        ValueTask.FromResult<IReadOnlyList<QueuedMessage>>([]);

    public long Mark() => 0;

    public bool IsDurable(long mark) => true;

    public void WhenDurable(long mark, Action<object?> callback, object? state) => callback(state);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
