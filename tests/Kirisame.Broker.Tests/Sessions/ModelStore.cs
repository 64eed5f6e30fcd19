using Kirisame.Broker.Delivery;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;

namespace Kirisame.Broker.Tests.Sessions;

/// A store that applies the writes it gets to a model of what a real store would hold per client id, so a test
/// can say what a restart would find instead of reading a log of writes. Durable at once.
internal sealed class ModelStore : IBrokerStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, SessionRecord> _sessions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SortedSet<string>> _subscriptions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SortedSet<long>> _queued = new(StringComparer.Ordinal);

    /// The stored session of <paramref name="clientId"/>, if any.
    public SessionRecord? Session(string clientId)
    {
        lock (_lock)
            return _sessions.TryGetValue(clientId, out var record) ? record : null;
    }

    /// The stored subscriptions of <paramref name="clientId"/>, sorted.
    public IReadOnlyList<string> Subscriptions(string clientId)
    {
        lock (_lock)
            return _subscriptions.TryGetValue(clientId, out var filters) ? [.. filters] : [];
    }

    /// The sequence numbers of the stored queue entries of <paramref name="clientId"/>, in order.
    public IReadOnlyList<long> Queued(string clientId)
    {
        lock (_lock)
            return _queued.TryGetValue(clientId, out var sequences) ? [.. sequences] : [];
    }

    public StoredState Load() => StoredState.Empty;

    public void PutSession(in SessionRecord session)
    {
        lock (_lock)
            _sessions[session.ClientId] = session;
    }

    public void DeleteSession(string clientId)
    {
        lock (_lock)
        {
            _sessions.Remove(clientId);
            _subscriptions.Remove(clientId);
            _queued.Remove(clientId);
        }
    }

    public void PutSubscription(string clientId, in SubscriptionRecord subscription)
    {
        lock (_lock)
        {
            if (!_subscriptions.TryGetValue(clientId, out var filters))
                _subscriptions[clientId] = filters = new SortedSet<string>(StringComparer.Ordinal);
            filters.Add(subscription.Filter);
        }
    }

    public void DeleteSubscription(string clientId, string filter)
    {
        lock (_lock)
            _subscriptions.GetValueOrDefault(clientId)?.Remove(filter);
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
            if (!_queued.TryGetValue(clientId, out var sequences))
                _queued[clientId] = sequences = [];
            sequences.Add(queued.Sequence);
        }
    }

    public void DeleteQueued(string clientId, long sequence, BrokerMessage message)
    {
        lock (_lock)
            _queued.GetValueOrDefault(clientId)?.Remove(sequence);
    }

    public void PutInboundQoS2(string clientId, ushort packetId)
    {
    }

    public void DeleteInboundQoS2(string clientId, ushort packetId)
    {
    }

    public long Mark() => 0;

    public bool IsDurable(long mark) => true;

    public void WhenDurable(long mark, Action<object?> callback, object? state) => callback(state);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
