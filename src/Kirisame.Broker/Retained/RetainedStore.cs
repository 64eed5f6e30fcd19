using System.Collections.Concurrent;
using Kirisame.Broker.Delivery;
using Kirisame.Protocol.Topics;

namespace Kirisame.Broker.Retained;

/// The last retained message per topic. An empty payload deletes and is not stored [MQTT-3.3.1-6], [MQTT-3.3.1-7].
internal sealed class RetainedStore
{
    private ConcurrentDictionary<string, BrokerMessage> _messages = new(StringComparer.Ordinal);
    private long _bytes;
    private int _clientCount;

    public int Count => _messages.Count;

    /// Retained messages and their payload bytes that clients published — the broker's own $SYS values not among
    /// them — for a tenant's retained quota (docs/adr/0021-tenants.md). Kept on every change, which only retained
    /// messages pay.
    public int ClientCount => Volatile.Read(ref _clientCount);

    public long Bytes => Interlocked.Read(ref _bytes);

    private static bool Counted(string topic) => !topic.StartsWith("$SYS/", StringComparison.Ordinal);

    private void Counted(BrokerMessage message, int sign)
    {
        if (!Counted(message.Topic))
            return;
        Interlocked.Add(ref _clientCount, sign);
        Interlocked.Add(ref _bytes, sign * (long)message.Payload.Length);
    }

    /// The payload size of the message retained for <paramref name="topic"/>, or -1 when there is none.
    public int SizeOf(string topic) => _messages.TryGetValue(topic, out var message) ? message.Payload.Length : -1;

    public void Set(BrokerMessage message)
    {
        if (message.Payload.IsEmpty)
        {
            Remove(message.Topic);
            return;
        }

        while (true)
        {
            if (_messages.TryGetValue(message.Topic, out var previous))
            {
                if (_messages.TryUpdate(message.Topic, message, previous))
                {
                    Counted(previous, -1);
                    Counted(message, 1);
                    return;
                }
            }
            else if (_messages.TryAdd(message.Topic, message))
            {
                Counted(message, 1);
                return;
            }
        }
    }

    /// Removes the retained message of <paramref name="topic"/>; false when there was none.
    public bool Remove(string topic)
    {
        if (!_messages.TryRemove(topic, out var removed))
            return false;
        Counted(removed, -1);
        return true;
    }

    /// Replaces the contents with messages read back at start-up, before any client is served: one table
    /// sized for them all rather than a million single adds that grow it step by step.
    public void Restore(IReadOnlyCollection<BrokerMessage> messages)
    {
        var restored = new ConcurrentDictionary<string, BrokerMessage>(Environment.ProcessorCount, messages.Count, StringComparer.Ordinal);
        foreach (var message in messages)
        {
            if (!message.Payload.IsEmpty)
                restored[message.Topic] = message;
        }

        _messages = restored;
        Interlocked.Exchange(ref _clientCount, restored.Keys.Count(Counted));
        Interlocked.Exchange(ref _bytes, restored.Values.Where(m => Counted(m.Topic)).Sum(m => (long)m.Payload.Length));
    }

    /// Retained messages whose topic matches <paramref name="topicFilter"/>, expired ones removed on the way.
    public List<BrokerMessage> Match(string topicFilter, TimeProvider time)
    {
        var result = new List<BrokerMessage>();
        if (!TopicRules.HasWildcard(topicFilter))
        {
            if (_messages.TryGetValue(topicFilter, out var exact))
                AddLive(result, exact, time);
            return result;
        }

        foreach (var (topic, message) in _messages)
        {
            if (TopicRules.Matches(topicFilter, topic))
                AddLive(result, message, time);
        }

        return result;
    }

    private void AddLive(List<BrokerMessage> result, BrokerMessage message, TimeProvider time)
    {
        if (message.IsExpired(time))
        {
            if (_messages.TryRemove(new KeyValuePair<string, BrokerMessage>(message.Topic, message)))
                Counted(message, -1);
        }
        else
            result.Add(message);
    }
}
