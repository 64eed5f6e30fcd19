using Kirisame.Broker.Clients;
using Kirisame.Broker.Sessions;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;
using Microsoft.Extensions.Time.Testing;

namespace Kirisame.Broker.Tests.Sessions;

/// Takeover fencing (docs/adr/0008): a connection that was taken over and finishes its clean-up afterwards —
/// stuck in a write past the takeover's 5 s, or finished without letting go — must not detach, end, overwrite or
/// delete the session of the connection that took its client id. The old holder is a <see cref="StaleHolder"/>
/// whose late clean-up the test runs itself, at the worst moment: after the newer connection is in.
public sealed class SessionFencingTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);

    private static MqttProperties Expiry(uint seconds) => new() { SessionExpiryInterval = seconds };

    private static WillMessage DelayedWill(string topic, uint delay) => new()
    {
        Topic = topic,
        Payload = "old connection gone"u8.ToArray(),
        QoS = QualityOfService.AtLeastOnce,
        Properties = new MqttProperties { WillDelayInterval = delay },
    };

    private static MqttBroker CreateBroker(ModelStore store, TimeProvider? time = null) =>
        new(new BrokerOptions { SysInterval = 0 }, timeProvider: time, store: store);

    private static ReasonCode Subscribe(MqttBroker broker, Session session, string filter)
    {
        var subscriber = new Subscriber(session.ClientId, null, broker.Authorizer, V5: true, WantsReasonString: true);
        return broker.Subscribe(session, subscriber, [new TopicSubscription(filter, QualityOfService.AtLeastOnce)], 0).Codes.Single();
    }

    /// Advances the fake clock a second at a time until <paramref name="task"/> completes (the takeover's wait for
    /// the old holder runs on it), with a real deadline.
    private static async Task<T> AdvanceUntilDoneAsync<T>(FakeTimeProvider time, Task<T> task)
    {
        var deadline = DateTime.UtcNow + s_timeout;
        while (!task.IsCompleted)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException("The takeover did not complete.");
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(task, Task.Delay(20));
        }

        return await task;
    }

    [Fact]
    public async Task AStuckConnection_CleaningUpAfterItWasTakenOver_LeavesTheNewerHolderAndItsSessionAlone() // [MQTT-3.1.4-3]
    {
        var time = new FakeTimeProvider();
        var store = new ModelStore();
        await using var broker = CreateBroker(store, time);
        var stale = new StaleHolder();
        var old = await broker.AttachSessionAsync(stale, "old-connection", "dev", cleanStart: false, expiry: 300);
        broker.Resume(old.Session!, stale);
        Assert.Equal(ReasonCode.GrantedQoS1, Subscribe(broker, old.Session!, "t/#"));

        await using var newer = new TestClient(broker, ProtocolVersion.V500);
        var connecting = newer.ConnectAsync("dev", cleanStart: false, properties: Expiry(300));
        Assert.Equal(ReasonCode.SessionTakenOver, await stale.CloseRequested.WaitAsync(s_timeout));
        // The old connection does not finish: 5 s later the session is taken from it.
        Assert.True((await AdvanceUntilDoneAsync(time, connecting)).SessionPresent);

        // Its clean-up, late: a delayed will, then its lease.
        broker.ReleaseSession(old.Session!, stale, old.Lease.Epoch, DelayedWill("wills/dev", 60), ProtocolVersion.V500);
        Assert.False(await broker.SessionRegistry.ReleaseAsync(old.Lease));

        var session = broker.FindSession("dev");
        Assert.Same(old.Session, session); // continued, neither ended nor replaced
        Assert.NotNull(session!.Owner);
        Assert.NotSame(stale, session.Owner);
        Assert.Null(session.PendingWill);
        Assert.True((await broker.SessionRegistry.FindAsync("dev"))!.Value.Epoch > old.Lease.Epoch);
        Assert.Equal(["t/#"], store.Subscriptions("dev"));
        Assert.Null(store.Session("dev")!.Value.PendingWill);

        await using var watcher = new TestClient(broker, ProtocolVersion.V500);
        await watcher.ConnectAsync("watcher");
        await watcher.SubscribeAsync("wills/#", QualityOfService.AtLeastOnce);
        await watcher.PublishAndSettleAsync("t/x", "for the newer holder", QualityOfService.AtLeastOnce);
        var delivered = await newer.ExpectPublishAsync();
        Assert.Equal("for the newer holder", Text.Of(delivered.Payload));
        await newer.SendAsync(new PublishAckPacket(PacketType.PubAck, delivered.PacketId));
        Assert.Equal(0, stale.Delivered);

        // The newer client leaves without a will. The old connection's will was not sent at the takeover, since
        // a new connection took the session before its delay was over, and is not sent later either [MQTT-3.1.3-9].
        await newer.DisconnectAsync();
        time.Advance(TimeSpan.FromSeconds(61));
        broker.Housekeep();
        await watcher.ExpectNothingAsync();
        Assert.Equal(["t/#"], store.Subscriptions("dev"));
        Assert.NotNull(broker.FindSession("dev"));
    }

    [Fact]
    public async Task AConnectionTakenOverWithCleanStart_WritesNothingMoreUnderItsClientId() // [MQTT-3.1.2-4]
    {
        var store = new ModelStore();
        await using var broker = CreateBroker(store);
        var stale = new StaleHolder(finishOnClose: true); // finishes without letting go of the session
        var old = await broker.AttachSessionAsync(stale, "old-connection", "dev", cleanStart: false, expiry: 300);
        broker.Resume(old.Session!, stale);
        Subscribe(broker, old.Session!, "old/#");

        await using var newer = new TestClient(broker, ProtocolVersion.V500);
        Assert.False((await newer.ConnectAsync("dev", cleanStart: true, properties: Expiry(300))).SessionPresent);
        await newer.SubscribeAsync("new/#", QualityOfService.AtLeastOnce);

        // The old connection goes on with what it had read before closing, then cleans up: on a session that no
        // longer stands for "dev". Before fencing, its SUBSCRIBE was stored under "dev" and routed to nobody.
        Assert.Equal(ReasonCode.UnspecifiedError, Subscribe(broker, old.Session!, "late/#"));
        broker.ReleaseSession(old.Session!, stale, old.Lease.Epoch, will: null, ProtocolVersion.V500);
        Assert.False(await broker.SessionRegistry.ReleaseAsync(old.Lease));

        Assert.Equal(["new/#"], store.Subscriptions("dev"));
        Assert.Equal(300u, store.Session("dev")!.Value.ExpiryInterval);
        Assert.Equal(1, broker.Subscriptions.Count);
        await using var publisher = new TestClient(broker, ProtocolVersion.V500);
        await publisher.ConnectAsync("publisher");
        Assert.Equal(ReasonCode.NoMatchingSubscribers, await publisher.PublishAndSettleAsync("late/x", "nobody", QualityOfService.AtLeastOnce));
        await publisher.PublishAndSettleAsync("new/x", "the newer session", QualityOfService.AtLeastOnce);
        Assert.Equal("the newer session", Text.Of((await newer.ExpectPublishAsync()).Payload));
    }

    /// Two connects wait for the same stuck holder; the later claim wins however the two wake up: the older one
    /// either finds the newer epoch on the session, or attaches first and then finds the newer lease in the
    /// registry, and lets go.
    [Fact]
    public async Task OfTwoConnectsWaitingForTheSameHolder_TheNewerClaimWins_WhicheverWakesFirst()
    {
        var store = new ModelStore();
        await using var broker = CreateBroker(store);
        var stale = new StaleHolder();
        var old = await broker.AttachSessionAsync(stale, "old-connection", "dev", cleanStart: false, expiry: 300);
        broker.Resume(old.Session!, stale);
        Subscribe(broker, old.Session!, "t/#");
        var options = new InProcessClientOptions { ClientId = "dev", CleanStart = false, SessionExpiryInterval = 300 };

        var older = InProcessClient.ConnectAsync(broker, options); // claims, then waits for the old holder
        var newer = InProcessClient.ConnectAsync(broker, options);
        await stale.CloseRequested.WaitAsync(s_timeout);
        Assert.False(older.IsCompleted || newer.IsCompleted);
        broker.ReleaseSession(old.Session!, stale, old.Lease.Epoch, will: null, ProtocolVersion.V500);
        stale.Finish();

        var refused = await Assert.ThrowsAsync<InProcessClientException>(() => older.WaitAsync(s_timeout));
        Assert.Equal(ReasonCode.SessionTakenOver, refused.Reason);
        await using var winner = await newer.WaitAsync(s_timeout);
        Assert.True(winner.SessionPresent);
        Assert.True(winner.IsConnected);
        Assert.Equal(1, ((LocalSessionRegistry)broker.SessionRegistry).Count);
        Assert.Equal(["t/#"], store.Subscriptions("dev"));
    }

    /// The gap the registry closes: while an older connect waits, a newer one claims the id, connects, and leaves
    /// with its session ended — nothing on the broker is left to compare epochs with. The older connect then
    /// finds in the registry that it was overtaken, and does not stay connected unknown to the registry.
    [Fact]
    public async Task AConnectOvertakenByOneThatCameAndWent_LetsGo_AndTheRegistryIsLeftEmpty()
    {
        var store = new ModelStore();
        await using var broker = CreateBroker(store);
        var stale = new StaleHolder();
        var old = await broker.AttachSessionAsync(stale, "old-connection", "dev", cleanStart: true, expiry: 0);
        broker.Resume(old.Session!, stale);

        var older = InProcessClient.ConnectAsync(broker, new InProcessClientOptions { ClientId = "dev" });
        await stale.CloseRequested.WaitAsync(s_timeout);
        broker.ReleaseSession(old.Session!, stale, old.Lease.Epoch, will: null, ProtocolVersion.V500); // the session ends
        var cameAndWent = await InProcessClient.ConnectAsync(broker, new InProcessClientOptions { ClientId = "dev" });
        await cameAndWent.DisconnectAsync();
        Assert.Equal(0, broker.SessionCount);
        stale.Finish();

        var refused = await Assert.ThrowsAsync<InProcessClientException>(() => older.WaitAsync(s_timeout));
        Assert.Equal(ReasonCode.SessionTakenOver, refused.Reason);
        Assert.Equal(0, broker.SessionCount);
        Assert.Null(await broker.SessionRegistry.FindAsync("dev"));
    }

    [Fact]
    public async Task TheRegistry_IsTheOneGivenToTheBroker_AndHoldsWhatIsConnected()
    {
        var registry = new LocalSessionRegistry();
        await using var broker = new MqttBroker(new BrokerOptions { SysInterval = 0 }, sessionRegistry: registry);
        Assert.Same(registry, broker.SessionRegistry);

        await using var client = new TestClient(broker, ProtocolVersion.V311, info: new ConnectionInfo("conn-1", null, null));
        await client.ConnectAsync("dev");
        var lease = await registry.FindAsync("dev");
        Assert.Equal(new SessionHolder(SessionHolder.LocalNode, "conn-1"), lease!.Value.Holder);

        await client.DisconnectAsync();
        Assert.Null(await registry.FindAsync("dev"));
        Assert.Equal(0, registry.Count);
    }
}
