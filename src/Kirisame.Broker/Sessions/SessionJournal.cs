using Kirisame.Broker.Delivery;
using Kirisame.Broker.Routing;
using Kirisame.Broker.Storage;

namespace Kirisame.Broker.Sessions;

/// The one place a session's changes reach the store, so durability has one owner: the broker changes a
/// session and tells its journal what changed; the journal decides whether that is written (only a session
/// that outlives its connection is) and how. Callers hold the session's lock, which keeps the writes for one
/// session in the order the changes happened (the store's contract).
///
/// A struct over the session and its store: the journal costs a session one reference, not an object.
internal readonly struct SessionJournal(Session session, IBrokerStore store)
{
    /// The session's own values (expiry, when it went away, a delayed will) changed.
    public void SessionChanged()
    {
        if (session.Durable)
            store.PutSession(Record());
    }

    /// Its Session Expiry Interval was set (CONNECT, DISCONNECT): a session that stops outliving its connection
    /// is removed from the store, with everything it had there.
    public void ExpiryChanged(bool wasDurable)
    {
        if (session.Durable)
            store.PutSession(Record());
        else if (wasDurable)
            store.DeleteSession(session.ClientId);
    }

    /// The session is discarded (clean start, expiry, or it ended with its connection).
    public void Ended()
    {
        if (session.Durable)
            store.DeleteSession(session.ClientId);
    }

    public void Subscribed(Subscription subscription)
    {
        if (session.Durable)
            store.PutSubscription(session.ClientId, new SubscriptionRecord(subscription.Filter, subscription.Options, subscription.SubscriptionId));
    }

    public void Unsubscribed(string filter)
    {
        if (session.Durable)
            store.DeleteSubscription(session.ClientId, filter);
    }

    /// A message joined the queue, waiting for room in the in-flight window or for the client to come back.
    public void Queued(in QueuedMessage queued)
    {
        if (session.Durable)
            store.PutQueued(session.ClientId, queued, 0, InflightState.AwaitingAck);
    }

    /// A queued message was sent with <paramref name="packetId"/>, or its exchange moved on to <paramref name="state"/>.
    public void InFlight(in QueuedMessage queued, ushort packetId, InflightState state)
    {
        if (session.Durable)
            store.PutQueued(session.ClientId, queued, packetId, state);
    }

    /// A message left the session's queue or window: delivered, expired, dropped, or moved to another member
    /// of a shared group.
    public void Removed(in QueuedMessage queued)
    {
        if (session.Durable)
            store.DeleteQueued(session.ClientId, queued.Sequence, queued.Message);
    }

    /// An inbound QoS 2 PUBLISH was received (PUBREC owed), or released by PUBREL.
    public void InboundQoS2Received(ushort packetId)
    {
        if (session.Durable)
            store.PutInboundQoS2(session.ClientId, packetId);
    }

    public void InboundQoS2Released(ushort packetId)
    {
        if (session.Durable)
            store.DeleteInboundQoS2(session.ClientId, packetId);
    }

    private SessionRecord Record() => new(session.ClientId, session.ExpiryInterval)
    {
        DisconnectedAtTicks = session.Owner is null ? session.DisconnectedAtTicks : 0,
        PendingWill = session.PendingWill,
        PendingWillAtTicks = session.PendingWillAtTicks,
        PendingWillVersion = session.PendingWillVersion,
    };
}
