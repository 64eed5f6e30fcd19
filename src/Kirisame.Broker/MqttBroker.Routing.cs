using Kirisame.Broker.Delivery;
using Kirisame.Broker.Diagnostics;
using Kirisame.Broker.Routing;
using Kirisame.Broker.Sessions;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Primitives;
using Kirisame.Protocol.Properties;
using Kirisame.Protocol.Topics;
using Microsoft.Extensions.Logging;

namespace Kirisame.Broker;

public sealed partial class MqttBroker
{
    /// Routes a PUBLISH received from a client. The message is materialised (payload copied once) only when
    /// somebody needs it: a subscriber, or the retained store. Returns the number of sessions it reached.
    internal int Publish(in PublishPacket publish, QualityOfService qos, bool retain, string topic, ReadOnlyMemory<byte> topicUtf8, string senderClientId,
        long receivedAtTicks)
    {
        var match = Subscriptions.Match(topic);
        if (!retain && match.Sessions.Length == 0 && match.SharedGroups.Length == 0)
            return 0;
        var properties = publish.Properties.IsEmpty ? default : publish.Properties.Detach() with { TopicAlias = 0, SubscriptionIdentifiers = default };
        var message = BrokerMessage.Rent(topic, topicUtf8, publish.Payload.Span, qos, retain, properties, senderClientId, receivedAtTicks);
        try
        {
            return Route(message, match);
        }
        finally
        {
            message.Release(); // routing's reference
        }
    }

    /// Routes a PUBLISH another cluster node forwarded: to the sessions here that match, not to the shared groups —
    /// the publishing node chose each group's member itself and sent that copy with <see cref="PublishToSharedMember"/>
    /// (docs/adr/0020). Not on a single node's path.
    internal int PublishForwarded(in PublishPacket publish, string topic, ReadOnlyMemory<byte> topicUtf8, long receivedAtTicks)
    {
        var match = Subscriptions.Match(topic).WithoutSharedGroups();
        if (!publish.Retain && match.Sessions.Length == 0)
            return 0;
        var message = Materialize(publish, topic, topicUtf8, "", receivedAtTicks);
        try
        {
            return Route(message, match);
        }
        finally
        {
            message.Release();
        }
    }

    /// Routes a PUBLISH another cluster node had sent to a node that died before accepting it, to the sessions here that
    /// <paramref name="eligible"/> accepts — those taken up from the dead node (docs/adr/0020): the others had their own
    /// copy. Not to shared groups (the sender gave those to other members already), and no retained change (replicated
    /// on its own). Not on a single node's path.
    internal int PublishForwardedTo(in PublishPacket publish, string topic, ReadOnlyMemory<byte> topicUtf8, Func<Session, bool> eligible, long receivedAtTicks)
    {
        var match = Subscriptions.Match(topic);
        var message = Materialize(publish, topic, topicUtf8, "", receivedAtTicks, retain: false);
        try
        {
            var reached = 0;
            foreach (var entry in match.Sessions)
            {
                if (!eligible(entry.Session) || !entry.All.Any)
                    continue;
                var aggregate = entry.All;
                var qos = message.QoS < aggregate.MaximumQoS ? message.QoS : aggregate.MaximumQoS;
                Deliver(entry.Session, message, qos, retain: false, aggregate.SubscriptionIds);
                reached++;
            }

            return reached;
        }
        finally
        {
            message.Release();
        }
    }

    /// Delivers a PUBLISH to one member of the group "$share/{shareName}/{topicFilter}" that <paramref name="eligible"/>
    /// accepts: the share of a group another cluster node gave this one. False when the group has no such member (it
    /// left meanwhile): the caller gives the message to another node's members, so that it is not lost.
    internal bool PublishToSharedMember(in PublishPacket publish, string topic, ReadOnlyMemory<byte> topicUtf8, string shareName, string topicFilter,
        Func<Session, bool> eligible, long receivedAtTicks)
    {
        if (Subscriptions.FindSharedGroup(shareName, topicFilter) is not { } group || group.Pick(eligible) is not { } member)
            return false;
        // Retained messages reach every node through the store's replication; this copy is only the group's delivery.
        var message = Materialize(publish, topic, topicUtf8, "", receivedAtTicks, retain: false);
        try
        {
            var qos = message.QoS < member.GrantedQoS ? message.QoS : member.GrantedQoS;
            Deliver(member.Session, message, qos, member.Options.RetainAsPublished && publish.Retain, member.SubscriptionIds, group);
            return true;
        }
        finally
        {
            message.Release();
        }
    }

    private static BrokerMessage Materialize(in PublishPacket publish, string topic, ReadOnlyMemory<byte> topicUtf8, string sender, long receivedAtTicks,
        bool? retain = null)
    {
        var properties = publish.Properties.IsEmpty ? default : publish.Properties.Detach() with { TopicAlias = 0, SubscriptionIdentifiers = default };
        return BrokerMessage.Rent(topic, topicUtf8, publish.Payload.Span, publish.QoS, retain ?? publish.Retain, properties, sender, receivedAtTicks);
    }

    /// Routes a message the broker itself produced (wills, $SYS).
    internal int Publish(BrokerMessage message) => Route(message, Subscriptions.Match(message.Topic));

    private int Route(BrokerMessage message, MatchResult match)
    {
        // Set before the first delivery, which a writer may take at once: several recipients share one encoding.
        message.ShareEncoding = SharedEncoding.Enabled && match.Sessions.Length + match.SharedGroups.Length > 1;
        if (message.Retain)
        {
            message.Pin();
            Retained.Set(message);
            // $SYS values are made afresh by each run (only the broker publishes them): kept for new subscribers,
            // never written to the store, so a restart does not restore the last run's statistics.
            if (message.Topic.StartsWith("$SYS/", StringComparison.Ordinal))
            {
            }
            else if (message.Payload.IsEmpty)
            {
                Store.DeleteRetained(message.Topic);
            }
            else
            {
                Store.PutRetained(message);
            }
        }
        var reached = 0;
        foreach (var entry in match.Sessions)
        {
            var aggregate = entry.Session.ClientId == message.SenderClientId ? entry.Own : entry.All;
            if (!aggregate.Any)
                continue;
            var qos = message.QoS < aggregate.MaximumQoS ? message.QoS : aggregate.MaximumQoS;
            // The RETAIN flag goes out only with Retain As Published (v5); otherwise it is cleared [MQTT-3.3.1-12].
            Deliver(entry.Session, message, qos, aggregate.RetainAsPublished && message.Retain, aggregate.SubscriptionIds);
            reached++;
        }

        foreach (var group in match.SharedGroups)
        {
            var member = group.Pick();
            if (member is null)
                continue;
            var qos = message.QoS < member.GrantedQoS ? message.QoS : member.GrantedQoS;
            Deliver(member.Session, message, qos, member.Options.RetainAsPublished && message.Retain, member.SubscriptionIds, group);
            reached++;
        }

        return reached;
    }

    /// Hands one message to one session: QoS 0 straight to the target; QoS 1/2 into the in-flight window, else into
    /// the session's pending queue. A queue over its limit drops (and counts) only when the session's consumer is
    /// offline or slow; a connected one that keeps up makes the publisher wait instead (<see cref="BackPressure"/>).
    private void Deliver(Session session, BrokerMessage message, QualityOfService qos, bool retain, uint[] subscriptionIds, SharedGroup? group = null)
    {
        if (qos == QualityOfService.AtMostOnce)
        {
            var connection = session.Target;
            if (connection is null)
                return; // QoS 0 is not queued for a session without a connection (allowed, not required; Mosquitto does the same)
            if (!connection.TryEnqueuePublish(message, qos, retain, dup: false, 0, subscriptionIds, mayDrop: BackPressure.MayDrop(session)))
            {
                if (!connection.IsClosing)
                {
                    Dropped(session, "its outbound queue is full");
                    QueueOverflowed(connection, session);
                }

                return;
            }

            BackPressure.Routed(session, connection);
            return;
        }

        // QoS 1/2 messages are kept by the session (in flight or pending) without reference counting.
        message.Pin();
        IDeliveryTarget? overflowed = null;
        IDeliveryTarget? target;
        lock (session.Sync)
        {
            target = session.Target;
            var queued = new QueuedMessage(message, qos, retain, subscriptionIds, group, ++session.LastSequence);
            if (target is not null && !session.HasPending && session.InflightCount < target.SendWindow)
            {
                SendLocked(session, target, queued);
                return;
            }

            EnqueueLocked(session, queued);
            if (TrimLocked(session))
                overflowed = target;
        }

        if (overflowed is not null)
            QueueOverflowed(overflowed, session);
        else if (target is not null)
            BackPressure.Routed(session, target);
    }

    /// Broker:QueueOverflowAction Disconnect: a connected client whose queue overflowed is closed with 0x97 Quota
    /// exceeded (v5; v3 clients just lose the connection). Its session, if it has one that outlives the
    /// connection, keeps what is queued for when it comes back.
    private void QueueOverflowed(IDeliveryTarget connection, Session session)
    {
        if (Options.QueueOverflowAction != QueueOverflowAction.Disconnect || connection.IsClosing)
            return;
        // A QoS 0 overflow is of the connection's outbound queue, which MaxQueued* bound; a QoS 1/2 one of the session's.
        var (messages, bytes) = QueueLimits(session);
        _logger.LogInformation("Client {ClientId} ({Remote}) cannot keep up: its queue is over the limit of {Messages} messages / {Bytes} bytes; closing",
            connection.LogName, connection.Origin, messages, bytes);
        connection.RequestClose(ReasonCode.QuotaExceeded, $"message queue full (at most {messages} messages or {bytes} bytes)");
    }

    private void Dropped(Session session, string why)
    {
        lock (session.Sync)
            DroppedLocked(session, why);
    }

    /// Counts a queue-full drop; logs when an episode begins and then at most once a minute per session, with the
    /// session's running total and the broker's.
    private void DroppedLocked(Session session, string why)
    {
        Metrics.Dropped(session, DropReason.QueueFull);
        var now = TimeProvider.GetTimestamp();
        if (session.Dropping && TimeProvider.GetElapsedTime(session.DropLoggedAtTicks, now) < TimeSpan.FromMinutes(1))
            return;
        session.Dropping = true;
        session.DropLoggedAtTicks = now;
        _logger.LogWarning("Dropping messages for client {ClientId}: {Why} (queue full, dropped for it so far: {Dropped}; by the broker: {Total})",
            MqttText.Quote(session.ClientId), why, session.DroppedFor(DropReason.QueueFull), Metrics.DroppedCount(DropReason.QueueFull));
    }

}

public sealed partial class MqttBroker
{
    /// A member of a shared subscription went away: its messages not yet sent (pending), and QoS 1 messages in
    /// flight awaiting PUBACK, go to another member of the group. A QoS 2 message whose PUBLISH went out stays:
    /// its delivery completes when the member reconnects, or ends with the session [MQTT-4.8.2-4], [MQTT-4.8.2-5].
    private void RedispatchShared(Session session)
    {
        List<QueuedMessage>? moved = null;
        lock (session.Sync)
        {
            // Only the window: messages of a group that are only in the store stay with this session and are delivered
            // when it returns (section 4.8.2 lets the server wait for the member to reconnect).
            session.PendingOrNull?.RemoveFromWindow(static queued => queued.Group is not null, ref moved);
            if (moved is not null)
            {
                foreach (var queued in moved)
                    session.Journal.Removed(queued);
            }

            var node = session.InflightOrder.First;
            while (node is not null)
            {
                var next = node.Next;
                var inflight = session.Inflight[node.Value];
                if (inflight.Queued.Group is not null && inflight.Queued.QoS == QualityOfService.AtLeastOnce)
                {
                    (moved ??= []).Add(inflight.Queued);
                    session.Inflight.Remove(node.Value);
                    session.InflightOrder.Remove(node);
                    session.Journal.Removed(inflight.Queued);
                }

                node = next;
            }
        }

        if (moved is null)
            return;
        foreach (var queued in moved)
        {
            // The live group: the one routing put there, or (read back from a store) the tree's by name and filter.
            var group = queued.Group as SharedGroup ?? Subscriptions.FindSharedGroup(queued.Group!.Name, queued.Group.TopicFilter);
            var member = group?.Pick(exclude: session);
            if (member is null)
            {
                // Nobody else in the group: the message stays with this session.
                Deliver(session, queued.Message, queued.QoS, queued.Retain, queued.SubscriptionIds, group);
                continue;
            }

            var qos = queued.Message.QoS < member.GrantedQoS ? queued.Message.QoS : member.GrantedQoS;
            Deliver(member.Session, queued.Message, qos, queued.Retain, member.SubscriptionIds, group);
        }
    }
}
