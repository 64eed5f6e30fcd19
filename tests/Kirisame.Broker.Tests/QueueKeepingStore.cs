using Kirisame.Broker.Delivery;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;

namespace Kirisame.Broker.Tests;

/// A store that keeps session queues and reads them back, as the RocksDB store does on disk (here in a dictionary):
/// the broker then keeps only a window of a persistent session's queue in memory. Everything is durable at once.
/// <see cref="HoldReads"/> makes reads wait until <see cref="ReleaseReads"/>, to test what happens meanwhile.
internal sealed class QueueKeepingStore : IBrokerStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, SortedDictionary<long, (QueuedMessage Queued, ushort PacketId)>> _queues = new(StringComparer.Ordinal);
    private TaskCompletionSource? _held;
    private int _reads;

    /// Reads begun so far.
    public int Reads => Volatile.Read(ref _reads);

    /// Completes when a read is waiting on <see cref="HoldReads"/>.
    public TaskCompletionSource ReadWaiting { get; private set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void HoldReads()
    {
        lock (_lock)
        {
            _held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            ReadWaiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public void ReleaseReads()
    {
        TaskCompletionSource? held;
        lock (_lock)
        {
            held = _held;
            _held = null;
        }

        held?.TrySetResult();
    }

    /// Entries the store holds for a client (pending and in flight).
    public int Stored(string clientId)
    {
        lock (_lock)
            return _queues.TryGetValue(clientId, out var queue) ? queue.Count : 0;
    }

    public StoredState Load() => StoredState.Empty;

    public void PutSession(in SessionRecord session)
    {
    }

    public void DeleteSession(string clientId)
    {
        lock (_lock)
            _queues.Remove(clientId);
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
        lock (_lock)
        {
            if (!_queues.TryGetValue(clientId, out var queue))
                _queues.Add(clientId, queue = []);
            queue[queued.Sequence] = (queued, packetId);
        }
    }

    public void DeleteQueued(string clientId, long sequence, BrokerMessage message)
    {
        lock (_lock)
        {
            if (_queues.TryGetValue(clientId, out var queue))
                queue.Remove(sequence);
        }
    }

    public void PutInboundQoS2(string clientId, ushort packetId)
    {
    }

    public void DeleteInboundQoS2(string clientId, ushort packetId)
    {
    }

    public bool ReadsQueues => true;

    public async ValueTask<IReadOnlyList<QueuedMessage>> ReadQueuedAsync(string clientId, long fromSequence, int maxMessages, long maxBytes)
    {
        Interlocked.Increment(ref _reads);
        Task? held;
        lock (_lock)
            held = _held?.Task;
        if (held is not null)
        {
            ReadWaiting.TrySetResult();
            await held;
        }

        var result = new List<QueuedMessage>();
        long bytes = 0;
        lock (_lock)
        {
            if (!_queues.TryGetValue(clientId, out var queue))
                return result;
            foreach (var (sequence, (queued, packetId)) in queue)
            {
                if (result.Count >= maxMessages || bytes >= maxBytes)
                    break;
                if (sequence < fromSequence || packetId != 0)
                    continue;
                result.Add(queued);
                bytes += queued.Message.Size;
            }
        }

        return result;
    }

    public long Mark() => 0;

    public bool IsDurable(long mark) => true;

    public void WhenDurable(long mark, Action<object?> callback, object? state) => callback(state);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
