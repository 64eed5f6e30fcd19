using System.Buffers;
using Kirisame.Broker.Delivery;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;
using Kirisame.Cluster.Grains;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Cluster;

/// A session in its stored form (<see cref="StoredSession"/>, what the broker gives up and adopts) to and from what
/// travels between nodes (<see cref="SessionTransfer"/>).
internal static class SessionTransfers
{
    public static SessionTransfer ToTransfer(StoredSession stored, TimeProvider time)
    {
        var transfer = new SessionTransfer
        {
            ClientId = stored.ClientId,
            ExpiryInterval = stored.ExpiryInterval,
            LastSequence = stored.LastSequence,
            InboundQoS2 = [.. stored.InboundQoS2],
        };
        foreach (var (filter, options, subscriptionId) in stored.Subscriptions)
        {
            transfer.Subscriptions.Add(new TransferredSubscription(filter, (byte)options.MaximumQoS, options.NoLocal, options.RetainAsPublished,
                (byte)options.RetainHandling, subscriptionId));
        }

        var messages = new ArrayBufferWriter<byte>();
        foreach (var (queued, packetId, state) in stored.Queue)
        {
            var message = queued.Message;
            // The expiry left, as a message forwarded now would carry it [MQTT-3.3.2-6].
            PublishPackets.Write(messages, message, message.RemainingExpiry(time) is { } left
                ? message.Properties with { MessageExpiryInterval = left } : message.Properties);
            transfer.Queue.Add(new TransferredEntry(queued.Sequence, (byte)queued.QoS, queued.Retain, queued.SubscriptionIds, queued.Group?.Name,
                queued.Group?.TopicFilter, packetId, (byte)state));
        }

        transfer.Messages = messages.WrittenSpan.ToArray();
        return transfer;
    }

    public static StoredSession ToStored(SessionTransfer transfer, TimeProvider time)
    {
        var stored = new StoredSession(transfer.ClientId)
        {
            ExpiryInterval = transfer.ExpiryInterval,
            LastSequence = transfer.LastSequence,
        };
        foreach (var s in transfer.Subscriptions)
        {
            stored.Subscriptions.Add((s.Filter, new TopicSubscription(s.Filter, (QualityOfService)s.MaximumQoS, s.NoLocal, s.RetainAsPublished,
                (RetainHandling)s.RetainHandling), s.SubscriptionId));
        }

        var now = time.GetTimestamp();
        var index = 0;
        foreach (var publish in PublishPackets.Read(transfer.Messages))
        {
            var entry = transfer.Queue[index++];
            var topic = System.Text.Encoding.UTF8.GetString(publish.Topic.Span);
            var message = new BrokerMessage(topic, publish.Topic.ToArray(), publish.Payload, publish.QoS, publish.Retain, publish.Properties.Detach(), "", now);
            var group = entry.GroupName is { } name ? new SharedGroup(name, entry.GroupFilter!) : null;
            var queued = new QueuedMessage(message, (QualityOfService)entry.QoS, entry.Retain, entry.SubscriptionIds, group, entry.Sequence);
            stored.Queue.Add((queued, entry.PacketId, (InflightState)entry.State));
        }

        stored.InboundQoS2.AddRange(transfer.InboundQoS2);
        return stored;
    }
}
