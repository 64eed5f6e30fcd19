using Kirisame.Broker.Delivery;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;
using Kirisame.Protocol;
using Microsoft.Extensions.Logging;

namespace Kirisame.Broker;

/// A session moving between the brokers of a cluster (docs/adr/0020): the node that held a client id gives its session
/// up to the node where the client connected again, in the stored form (<see cref="StoredSession"/>), and deletes its
/// copy from its store only once the other node has it. Used by a cluster node only; a single node never calls these.
public sealed partial class MqttBroker
{
    /// Another node claimed <paramref name="clientId"/> under <paramref name="epoch"/> and continues its session: the
    /// connection holding it here is closed with Session taken over (0x8E, [MQTT-3.1.4-3]), and the session — its
    /// subscriptions, queue with in-flight state, inbound QoS 2 ids — leaves this broker and is returned. Null when there
    /// is none, or when this session's epoch is newer than the claim's (a hand-over for an older claim is refused).
    ///
    /// The session is retired here (no more writes, out of the topic tree) but stays in the store until
    /// <see cref="HandedOver"/>: a node that fails before it has the session has lost nothing that was stored here.
    /// A pending delayed will is not carried: the new node attaches the session at once, which cancels it [MQTT-3.1.3-9].
    ///
    /// With <paramref name="keepLive"/> the session is only copied: it stays here, subscribed and queueing what is routed
    /// to it, until a second call without it takes it out; the other node then gets what came in between
    /// (<see cref="DeliverHandedOver"/>), so that nothing routed here while the session moves is lost.
    internal async Task<StoredSession?> HandOverSessionAsync(string clientId, long epoch, bool keepLive = false)
    {
        if (FindSession(clientId) is not { } found || found.Epoch > epoch)
            return null;
        if (found.Owner is { } owner)
        {
            _logger.LogInformation("Client {ClientId} connected on another node; closing its connection here and handing its session over", owner.LogName);
            owner.RequestClose(ReasonCode.SessionTakenOver);
            await Task.WhenAny(owner.Finished, Task.Delay(TimeSpan.FromSeconds(5), TimeProvider));
        }

        StoredSession stored;
        int storedCount;
        long storedFrom;
        lock (_sessionsLock)
        {
            // Read again: the closed connection's session may have ended with it (expiry 0), or a newer claim come.
            if (!_sessions.TryGetValue(clientId, out var session) || session.Epoch > epoch)
                return null;
            if (session.Owner is not null)
                DetachLocked(session); // stuck past the 5 s: the session is taken from it, as on a local takeover
            if (!keepLive)
                _sessions.Remove(clientId);
            lock (session.Sync)
            {
                stored = SnapshotLocked(session);
                storedCount = session.PendingOrNull?.StoredCount ?? 0;
                storedFrom = session.PendingOrNull?.StoredFrom ?? 0;
                // No journal write: the store keeps the session until the other node has it (HandedOver).
                if (!keepLive)
                    RetireLocked(session);
            }
        }

        // The part of the queue kept only in the store (docs/adr/0010): still there, since nothing was deleted.
        stored.StoredPendingCount = storedCount;
        stored.StoredPendingFrom = storedFrom;
        await stored.ReadStoredPendingAsync(Store).ConfigureAwait(false);
        return stored;
    }

    /// Out of the topic tree, retired so that nothing writes to it again. Caller holds session.Sync.
    private void RetireLocked(Session session)
    {
        session.Retire();
        if (session.HasSubscriptions)
        {
            foreach (var subscription in session.Subscriptions.Values)
                Subscriptions.Remove(session, subscription.TopicFilter, subscription.ShareName);
        }

        session.Clear();
    }

    /// What the old node's copy of a session received after the snapshot this node adopted (see
    /// <see cref="HandOverSessionAsync"/>'s keepLive): delivered to the session here as routing would have, queued and
    /// journalled. Returns how many; 0 when the session is no longer here.
    internal int DeliverHandedOver(StoredSession rest)
    {
        if (FindSession(rest.ClientId) is not { } session)
            return 0;
        foreach (var (queued, _, _) in rest.Queue)
            Deliver(session, queued.Message, queued.QoS, queued.Retain, queued.SubscriptionIds, queued.Group as SharedGroup);
        return rest.Queue.Count;
    }

    /// The session as the store would give it back: in-flight entries in send order, then the queue's window. Caller
    /// holds session.Sync.
    private static StoredSession SnapshotLocked(Session session)
    {
        var stored = new StoredSession(session.ClientId)
        {
            ExpiryInterval = session.ExpiryInterval,
            LastSequence = session.LastSequence,
        };
        if (session.HasSubscriptions)
        {
            foreach (var subscription in session.Subscriptions.Values)
                stored.Subscriptions.Add((subscription.Filter, subscription.Options, subscription.SubscriptionId));
        }

        if (session.HasInflight)
        {
            foreach (var packetId in session.InflightOrder)
            {
                var inflight = session.Inflight[packetId];
                stored.Queue.Add((inflight.Queued, packetId, inflight.State));
            }
        }

        if (session.PendingOrNull is { } pending)
        {
            foreach (var queued in pending.Window)
                stored.Queue.Add((queued, 0, InflightState.AwaitingAck));
        }

        if (session.HasInboundQoS2)
            stored.InboundQoS2.AddRange(session.InboundQoS2);
        return stored;
    }

    /// The other node has the session <see cref="HandOverSessionAsync"/> gave up: its copy in this store goes — unless
    /// the client id has a session here again (it came back meanwhile), whose writes the store holds now.
    internal void HandedOver(string clientId)
    {
        lock (_sessionsLock)
        {
            if (!_sessions.ContainsKey(clientId))
                SessionJournal.HandedOver(Store, clientId);
        }
    }

    /// A session handed over by another node for the claim of <paramref name="epoch"/>, which is about to attach it:
    /// it replaces what this broker had for the client id, and is written to the store with everything it has (a
    /// persistent session) before the other node deletes its copy. False when a newer claim's session, or a connected
    /// one, is here: that one stays.
    internal bool AdoptSession(StoredSession stored, long epoch)
    {
        var clock = WallClockAnchor.Now(TimeProvider);
        var messages = 0;
        lock (_sessionsLock)
        {
            if (_sessions.TryGetValue(stored.ClientId, out var existing))
            {
                if (existing.Epoch > epoch || existing.Owner is not null)
                    return false;
                DiscardSessionLocked(existing);
            }

            var session = RebuildSessionLocked(stored, clock, ref messages);
            lock (session.Sync)
            {
                session.Epoch = epoch;
                session.Journal.ExpiryChanged(); // not in this store yet: written whole
            }

            _sessions[stored.ClientId] = session;
        }

        _logger.LogInformation("Client {ClientId}: session taken over from another node with {Subscriptions} subscription(s) and {Messages} queued message(s)",
            Protocol.Primitives.MqttText.Quote(stored.ClientId), stored.Subscriptions.Count, messages);
        return true;
    }
}
