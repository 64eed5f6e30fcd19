using Kirisame.Broker.Delivery;
using Kirisame.Broker.Storage;

namespace Kirisame.Broker.Sessions;

/// The one place a session's changes reach the store, so durability has one owner: the broker changes a
/// session and tells its journal what changed; the journal decides whether that is written (only a session
/// that outlives its connection is, and one whose queue is in the store until it ends) and how. Callers hold the
/// session's lock, which keeps the writes for one session in the order the changes happened (the store's contract).
///
/// Writes are by client id, and a client id outlives the session objects that stand for it: a discarded
/// (retired) session writes nothing, whoever still calls it — a connection finishing after a clean-start
/// takeover, a delivery matched just before the session ended. Its last write was the delete; anything after
/// it would land on the newer session's state (docs/adr/0008). The check is one field of the session, read
/// under the lock the caller already holds.
///
/// A struct over the session and its store: the journal costs a session one reference, not an object.
internal readonly struct SessionJournal(Session session, IBrokerStore store)
{
    /// Whether the session's changes are written: it is in the store and still stands for its client id.
    private bool Writes => session.InStore && !session.IsRetired;

    /// The session's own values (expiry, when it went away, a delayed will) changed.
    public void SessionChanged()
    {
        if (Writes)
            store.PutSession(Record());
    }

    /// Its Session Expiry Interval was set (CONNECT, DISCONNECT). A session that starts outliving its connection is
    /// written with everything it has; one that stops is removed from the store with everything it had there —
    /// unless part of its queue is only in the store: then it stays there (as ending with its connection) until it
    /// ends, so that its client still gets that part.
    public void ExpiryChanged()
    {
        if (session.IsRetired)
            return;
        if (session.Durable)
        {
            store.PutSession(Record());
            if (!session.InStore)
            {
                session.InStore = true;
                WriteAll();
            }
        }
        else if (session.InStore)
        {
            if (session.PendingOrNull is { StoredCount: > 0 })
            {
                store.PutSession(Record());
            }
            else
            {
                store.DeleteSession(session.ClientId);
                session.InStore = false;
            }
        }
    }

    /// A session handed to another node of a cluster (MqttBroker.HandOver.cs) was taken out of this broker before the
    /// other node confirmed it had it; once it has, the copy left in this store goes. By client id: the session object
    /// is gone already, and nothing has the id here (the caller checks under the sessions' lock).
    public static void HandedOver(IBrokerStore store, string clientId) => store.DeleteSession(clientId);

    /// The session was read from the store at start-up: it is there already.
    public void Restored() => session.InStore = true;

    /// The session is discarded (clean start, expiry, or it ended with its connection); the caller retires it
    /// next, so this is the last write it makes.
    public void Ended()
    {
        if (!Writes)
            return;
        store.DeleteSession(session.ClientId);
        session.InStore = false;
    }

    public void Subscribed(Subscription subscription)
    {
        if (Writes)
            store.PutSubscription(session.ClientId, new SubscriptionRecord(subscription.Filter, subscription.Options, subscription.SubscriptionId));
    }

    public void Unsubscribed(string filter)
    {
        if (Writes)
            store.DeleteSubscription(session.ClientId, filter);
    }

    /// A message joined the queue, waiting for room in the in-flight window or for the client to come back.
    public void Queued(in QueuedMessage queued)
    {
        if (Writes)
            store.PutQueued(session.ClientId, queued, 0, InflightState.AwaitingAck);
    }

    /// A queued message was sent with <paramref name="packetId"/>, or its exchange moved on to <paramref name="state"/>.
    public void InFlight(in QueuedMessage queued, ushort packetId, InflightState state)
    {
        if (Writes)
            store.PutQueued(session.ClientId, queued, packetId, state);
    }

    /// A message left the session's queue or window: delivered, expired, dropped, or moved to another member
    /// of a shared group.
    public void Removed(in QueuedMessage queued)
    {
        if (Writes)
            store.DeleteQueued(session.ClientId, queued.Sequence, queued.Message);
    }

    /// An inbound QoS 2 PUBLISH was received (PUBREC owed), or released by PUBREL.
    public void InboundQoS2Received(ushort packetId)
    {
        if (Writes)
            store.PutInboundQoS2(session.ClientId, packetId);
    }

    public void InboundQoS2Released(ushort packetId)
    {
        if (Writes)
            store.DeleteInboundQoS2(session.ClientId, packetId);
    }

    /// A session that existed before it became durable (it can only be one whose connection was stuck and taken
    /// over): what it already had is written now, so that the store has all of it.
    private void WriteAll()
    {
        if (session.HasSubscriptions)
        {
            foreach (var subscription in session.Subscriptions.Values)
                Subscribed(subscription);
        }

        if (session.PendingOrNull is { } pending)
        {
            foreach (var queued in pending.Window)
                Queued(queued);
        }

        if (session.HasInflight)
        {
            foreach (var inflight in session.Inflight.Values)
                InFlight(inflight.Queued, inflight.PacketId, inflight.State);
        }

        if (session.HasInboundQoS2)
        {
            foreach (var packetId in session.InboundQoS2)
                InboundQoS2Received(packetId);
        }
    }

    private SessionRecord Record() => new(session.ClientId, session.ExpiryInterval)
    {
        DisconnectedAtTicks = session.Owner is null ? session.DisconnectedAtTicks : 0,
        PendingWill = session.PendingWill,
        PendingWillAtTicks = session.PendingWillAtTicks,
        PendingWillVersion = session.PendingWillVersion,
    };
}
