using System.Collections.Concurrent;
using Kirisame.Broker.Delivery;
using Kirisame.Protocol.Topics;

namespace Kirisame.Broker.Retained;

/// The last retained message per topic. An empty payload deletes and is not stored [MQTT-3.3.1-6], [MQTT-3.3.1-7].
internal sealed class RetainedStore
{
    private ConcurrentDictionary<string, BrokerMessage> _messages = new(StringComparer.Ordinal);

    public int Count => _messages.Count;

    public void Set(BrokerMessage message)
    {
        if (message.Payload.IsEmpty)
            _messages.TryRemove(message.Topic, out _);
        else
            _messages[message.Topic] = message;
    }

    /// Removes the retained message of <paramref name="topic"/>; false when there was none.
    public bool Remove(string topic) => _messages.TryRemove(topic, out _);

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
            _messages.TryRemove(new KeyValuePair<string, BrokerMessage>(message.Topic, message));
        else
            result.Add(message);
    }
}
