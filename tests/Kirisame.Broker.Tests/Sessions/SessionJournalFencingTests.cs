using Kirisame.Broker.Delivery;
using Kirisame.Broker.Routing;
using Kirisame.Broker.Sessions;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Broker.Tests.Sessions;

/// The journal writes by client id, and a client id outlives the session objects that stood for it: once a session
/// is discarded (retired), whatever still reaches it writes nothing (docs/adr/0008).
public sealed class SessionJournalFencingTests
{
    private static Subscription Subscription(Session session, string filter) =>
        new(session, filter, filter, null, new TopicSubscription(filter, QualityOfService.AtLeastOnce), 0);

    private static QueuedMessage Queued(long sequence) =>
        new(new BrokerMessage("t", "t"u8.ToArray(), "m"u8.ToArray(), QualityOfService.AtLeastOnce, false, default, null, 0),
            QualityOfService.AtLeastOnce, false, [], Sequence: sequence);

    [Fact]
    public void ARetiredSession_WritesNothing_OverTheNewerSessionOfItsClientId()
    {
        var store = new ModelStore();
        var old = new Session("dev", store) { ExpiryInterval = 300 };
        lock (old.Sync)
        {
            old.Journal.ExpiryChanged(); // durable: written, and in the store from now on
            old.Journal.Subscribed(Subscription(old, "old/#"));
            old.Journal.Ended();
            old.Retire();
        }

        var newer = new Session("dev", store) { ExpiryInterval = 600 };
        lock (newer.Sync)
        {
            newer.Journal.ExpiryChanged();
            newer.Journal.Subscribed(Subscription(newer, "new/#"));
            newer.Journal.Queued(Queued(1));
        }

        // Late calls on the old object, as a connection finishing after a clean-start takeover, or a delivery
        // matched just before the discard, would make them.
        lock (old.Sync)
        {
            old.Journal.Subscribed(Subscription(old, "late/#"));
            old.Journal.Unsubscribed("new/#");
            old.Journal.Queued(Queued(7));
            old.Journal.Removed(Queued(1));
            old.Journal.SessionChanged();
            old.ExpiryInterval = 0;
            old.Journal.ExpiryChanged(); // would delete "dev"
            old.Journal.Ended();
        }

        Assert.Equal(600u, store.Session("dev")!.Value.ExpiryInterval);
        Assert.Equal(["new/#"], store.Subscriptions("dev"));
        Assert.Equal([1L], store.Queued("dev"));
    }
}
