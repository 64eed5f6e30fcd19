using Kirisame.Broker.Routing;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;
using Kirisame.Protocol.Topics;
using Microsoft.Extensions.Logging;

namespace Kirisame.Broker;

public sealed partial class MqttBroker
{
    /// Rebuilds what the store remembers: sessions with their subscriptions (the topic tree), queues with
    /// in-flight state, inbound QoS 2 identifiers, pending wills, and retained messages. Call once, before
    /// <see cref="Start"/> and before serving connections. Expiry continues from wall-clock time: a session or
    /// delayed will whose time passed during the outage is handled by the first housekeeping round.
    public void Restore(StoredState state)
    {
        var messages = 0;
        long storedOnly = 0;
        var started = TimeProvider.GetTimestamp();
        var clock = WallClockAnchor.Now(TimeProvider);
        lock (_sessionsLock)
        {
            foreach (var stored in state.Sessions)
            {
                var session = RebuildSessionLocked(stored, clock, ref messages);
                session.Journal.Restored();
                // What the store kept without loading it stays there until the client comes back for it.
                if (stored.StoredPendingCount > 0)
                {
                    session.Pending.Restored(stored.StoredPendingCount, stored.StoredPendingBytes, stored.StoredPendingFrom);
                    storedOnly += stored.StoredPendingCount;
                }

                _sessions[stored.ClientId] = session;
            }
        }

        foreach (var message in state.Retained)
            message.Pin();
        Retained.Restore(state.Retained);

        _logger.LogInformation("Restored {Sessions} sessions, {Messages} queued messages and {Retained} retained messages in {Milliseconds} ms ({Stored} of the queued messages stay in the store until their clients return)",
            state.Sessions.Count, messages + storedOnly, state.Retained.Count, (long)TimeProvider.GetElapsedTime(started).TotalMilliseconds, storedOnly);
    }

    /// A session object from its stored form, its subscriptions in the topic tree, its queue in memory: for
    /// <see cref="Restore"/> and for a session handed over by another node (<see cref="AdoptSession"/>). Caller holds
    /// _sessionsLock; the session is not in <see cref="_sessions"/> yet.
    private Session RebuildSessionLocked(StoredSession stored, in WallClockAnchor clock, ref int messages)
    {
        var session = new Session(stored.ClientId, Store)
        {
            ExpiryInterval = stored.ExpiryInterval,
            // 0: it was connected when the process stopped; its expiry counts from now.
            DisconnectedAtTicks = stored.DisconnectedAtUnixMs == 0 ? TimeProvider.GetTimestamp() : clock.FromUnixMs(stored.DisconnectedAtUnixMs),
            PendingWill = stored.PendingWill,
            PendingWillAtTicks = stored.PendingWill is null ? 0 : clock.FromUnixMs(stored.PendingWillAtUnixMs),
            PendingWillVersion = stored.PendingWillVersion,
            LastSequence = stored.LastSequence,
        };
        foreach (var (filter, options, subscriptionId) in stored.Subscriptions)
        {
            var shared = TopicRules.TryParseShared(filter, out var shareName, out var topicFilter);
            var subscription = new Subscription(session, filter, topicFilter, shared ? shareName : null, options, subscriptionId);
            session.Subscriptions[filter] = subscription;
            Subscriptions.Add(subscription);
        }

        foreach (var (entry, packetId, inflightState) in stored.Queue)
        {
            // The store knows a shared group only by name and filter; use the live one from the tree.
            var queued = entry.Group is { } group
                ? entry with { Group = Subscriptions.FindSharedGroup(group.Name, group.TopicFilter) ?? group }
                : entry;
            queued.Message.Pin();
            session.LastSequence = Math.Max(session.LastSequence, queued.Sequence);
            if (packetId == 0)
            {
                session.Pending.Enqueue(queued);
            }
            else
            {
                session.Inflight[packetId] = new InflightMessage(queued, packetId) { State = inflightState };
                session.InflightOrder.AddLast(packetId);
            }

            messages++;
        }

        foreach (var packetId in stored.InboundQoS2)
            session.InboundQoS2.Add(packetId);
        return session;
    }
}
