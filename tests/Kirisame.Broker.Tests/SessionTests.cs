using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;
using Microsoft.Extensions.Time.Testing;

namespace Kirisame.Broker.Tests;

public sealed class SessionTests
{
    private static MqttProperties Expiry(uint seconds) => new() { SessionExpiryInterval = seconds };

    [Theory]
    [InlineData(ProtocolVersion.V311)] // 3.1.1 [MQTT-3.1.4-2]
    [InlineData(ProtocolVersion.V500)] // [MQTT-3.1.4-3]: DISCONNECT 0x8E first
    // [MQTT-3.1.2-5], [MQTT-3.1.4-4] the session continues; [MQTT-3.1.3-2] it is found by client id.
    public async Task Takeover_WithoutCleanStart_ClosesTheOldConnection_AndTheSessionContinues(ProtocolVersion version)
    {
        await using var broker = TestBroker.Create();
        var properties = version == ProtocolVersion.V500 ? Expiry(300) : null;
        await using var first = new TestClient(broker, version);
        await first.ConnectAsync("same", cleanStart: false, properties: properties);
        await first.SubscribeAsync("t/#", QualityOfService.AtLeastOnce);

        await using var second = new TestClient(broker, version);
        var ack = await second.ConnectAsync("same", cleanStart: false, properties: properties);
        Assert.True(ack.SessionPresent); // [MQTT-3.2.2-3]
        if (version == ProtocolVersion.V500)
            Assert.Equal(ReasonCode.SessionTakenOver, (await first.ExpectAsync<DisconnectPacket>()).ReasonCode);
        await first.ExpectClosedAsync();

        await using var publisher = new TestClient(broker, version);
        await publisher.ConnectAsync("publisher");
        await publisher.PublishAndSettleAsync("t/x", "still subscribed", QualityOfService.AtLeastOnce);
        var p = await second.ExpectPublishAsync();
        Assert.Equal("still subscribed", Text.Of(p.Payload));
        Assert.Equal(QualityOfService.AtLeastOnce, p.QoS);
        Assert.Equal(2, broker.SessionCount); // "same" once, and the publisher
    }

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task Takeover_WithCleanStart_DiscardsTheOldSession(ProtocolVersion version) // [MQTT-3.1.2-4], [MQTT-3.2.2-2]; 3.1.1 [MQTT-3.1.2-6]
    {
        await using var broker = TestBroker.Create();
        await using var first = new TestClient(broker, version);
        await first.ConnectAsync("same", cleanStart: false, properties: version == ProtocolVersion.V500 ? Expiry(300) : null);
        await first.SubscribeAsync("t/#", QualityOfService.AtLeastOnce);

        await using var second = new TestClient(broker, version);
        var ack = await second.ConnectAsync("same", cleanStart: true);
        Assert.False(ack.SessionPresent);
        if (version == ProtocolVersion.V500)
            Assert.Equal(ReasonCode.SessionTakenOver, (await first.ExpectAsync<DisconnectPacket>()).ReasonCode);
        await first.ExpectClosedAsync();

        await using var publisher = new TestClient(broker, version);
        await publisher.ConnectAsync("publisher");
        await publisher.PublishAndSettleAsync("t/x", "nobody", QualityOfService.AtLeastOnce);
        await second.ExpectNothingAsync();
        Assert.Equal(0, broker.Subscriptions.Count);
    }

    // [MQTT-4.3.2-3], [MQTT-4.3.3-3], [MQTT-4.3.3-5] unacknowledged until PUBACK / PUBREC / PUBCOMP;
    // [MQTT-4.3.3-4] PUBREL with the PUBLISH's identifier; [MQTT-4.3.3-6] no PUBLISH again after PUBREL.
    [Fact]
    public async Task Reconnect_ResendsUnacknowledgedPublishesWithDup_ThenPubRel_ThenTheQueue_InOrder() // [MQTT-4.4.0-1], [MQTT-3.3.1-1]
    {
        await using var broker = TestBroker.Create(o => o.MaxInflightMessages = 2);
        await using var publisher = new TestClient(broker, ProtocolVersion.V311);
        await publisher.ConnectAsync("publisher");
        var sub = new TestClient(broker, ProtocolVersion.V311);
        await sub.ConnectAsync("persistent", cleanStart: false);
        await sub.SubscribeAsync("q", QualityOfService.ExactlyOnce);

        await publisher.PublishAndSettleAsync("q", "m1", QualityOfService.AtLeastOnce);
        await publisher.PublishAndSettleAsync("q", "m2", QualityOfService.ExactlyOnce);
        await publisher.PublishAndSettleAsync("q", "m3", QualityOfService.AtLeastOnce);
        await publisher.PublishAndSettleAsync("q", "m4", QualityOfService.AtLeastOnce);

        var m1 = await sub.ExpectPublishAsync();
        var m2 = await sub.ExpectPublishAsync();
        Assert.Equal(("m1", QualityOfService.AtLeastOnce), (Text.Of(m1.Payload), m1.QoS));
        Assert.Equal(("m2", QualityOfService.ExactlyOnce), (Text.Of(m2.Payload), m2.QoS));
        await sub.ExpectNothingAsync(); // the window of 2 is full
        await sub.SendAsync(new PublishAckPacket(PacketType.PubRec, m2.PacketId));
        var release = await sub.ExpectAsync<PublishAckPacket>();
        Assert.Equal((PacketType.PubRel, m2.PacketId), (release.Type, release.PacketId));
        // m1 not acknowledged, m2 not completed: gone.
        await sub.DisconnectAsync();
        await sub.DisposeAsync();

        await publisher.PublishAndSettleAsync("q", "m5", QualityOfService.AtLeastOnce);

        await using var again = new TestClient(broker, ProtocolVersion.V311);
        Assert.True((await again.ConnectAsync("persistent", cleanStart: false)).SessionPresent);
        var resent = await again.ExpectPublishAsync();
        Assert.Equal(("m1", true, m1.PacketId), (Text.Of(resent.Payload), resent.Dup, resent.PacketId));
        var rerelease = await again.ExpectAsync<PublishAckPacket>();
        Assert.Equal((PacketType.PubRel, m2.PacketId), (rerelease.Type, rerelease.PacketId));
        await again.ExpectNothingAsync(); // both still in flight

        await again.SendAsync(new PublishAckPacket(PacketType.PubAck, m1.PacketId));
        var m3 = await again.ExpectPublishAsync();
        Assert.Equal(("m3", false), (Text.Of(m3.Payload), m3.Dup));
        await again.SendAsync(new PublishAckPacket(PacketType.PubComp, m2.PacketId));
        var m4 = await again.ExpectPublishAsync();
        Assert.Equal("m4", Text.Of(m4.Payload));
        await again.SendAsync(new PublishAckPacket(PacketType.PubAck, m3.PacketId));
        Assert.Equal("m5", Text.Of((await again.ExpectPublishAsync()).Payload));
        await again.ExpectNothingAsync();
    }

    [Fact]
    public async Task Takeover_WithoutCleanStart_ResendsWhatTheOldConnectionLeftUnacknowledged() // [MQTT-4.4.0-1]
    {
        await using var broker = TestBroker.Create();
        await using var publisher = new TestClient(broker, ProtocolVersion.V311);
        await publisher.ConnectAsync("publisher");
        await using var first = new TestClient(broker, ProtocolVersion.V311);
        await first.ConnectAsync("same", cleanStart: false);
        await first.SubscribeAsync("t", QualityOfService.AtLeastOnce);
        await publisher.PublishAndSettleAsync("t", "unacked", QualityOfService.AtLeastOnce);
        var original = await first.ExpectPublishAsync();

        await using var second = new TestClient(broker, ProtocolVersion.V311);
        Assert.True((await second.ConnectAsync("same", cleanStart: false)).SessionPresent);
        await first.ExpectClosedAsync();
        var resent = await second.ExpectPublishAsync();
        Assert.Equal(("unacked", true, original.PacketId), (Text.Of(resent.Payload), resent.Dup, resent.PacketId));
        await second.SendAsync(new PublishAckPacket(PacketType.PubAck, resent.PacketId));
        await second.ExpectNothingAsync();
    }

    [Fact]
    public async Task InboundQoS2_StaysExactlyOnce_AcrossAPublisherReconnect() // [MQTT-4.3.3-10], [MQTT-4.3.3-11]; 3.1.1 [MQTT-4.3.3-2]
    {
        await using var broker = TestBroker.Create();
        await using var sub = new TestClient(broker, ProtocolVersion.V311);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("t");

        var publisher = new TestClient(broker, ProtocolVersion.V311);
        await publisher.ConnectAsync("publisher", cleanStart: false);
        await publisher.PublishAsync("t", "once", QualityOfService.ExactlyOnce, packetId: 9);
        Assert.Equal(PacketType.PubRec, (await publisher.ExpectAsync<PublishAckPacket>()).Type);
        await publisher.DropAsync(); // PUBREC received, PUBREL never sent
        await publisher.ExpectClosedAsync();
        await publisher.DisposeAsync();
        Assert.Equal("once", Text.Of((await sub.ExpectPublishAsync()).Payload));

        await using var again = new TestClient(broker, ProtocolVersion.V311);
        Assert.True((await again.ConnectAsync("publisher", cleanStart: false)).SessionPresent);
        await again.PublishAsync("t", "once", QualityOfService.ExactlyOnce, packetId: 9, dup: true);
        Assert.Equal(PacketType.PubRec, (await again.ExpectAsync<PublishAckPacket>()).Type);
        await again.SendAsync(new PublishAckPacket(PacketType.PubRel, 9));
        var comp = await again.ExpectAsync<PublishAckPacket>();
        Assert.Equal((PacketType.PubComp, (ushort)9), (comp.Type, comp.PacketId));
        await sub.ExpectNothingAsync();
    }

    [Fact]
    public async Task CleanSession1_EndsTheSessionAtDisconnect() // 3.1.1 [MQTT-3.1.2-6]
    {
        await using var broker = TestBroker.Create();
        var first = new TestClient(broker, ProtocolVersion.V311);
        await first.ConnectAsync("clean", cleanStart: true);
        await first.SubscribeAsync("t");
        await first.DisconnectAsync();
        await first.DisposeAsync();
        Assert.Equal(0, broker.SessionCount);
        Assert.Equal(0, broker.Subscriptions.Count);

        await using var again = new TestClient(broker, ProtocolVersion.V311);
        Assert.False((await again.ConnectAsync("clean", cleanStart: false)).SessionPresent); // no session: a new one [MQTT-3.1.2-6]
    }

    [Fact]
    public async Task V3PersistentSession_IsKeptForADay_ByDefault()
    {
        // A 3.1.1 client cannot say how long its session should live: Broker:DefaultSessionExpirySeconds (a day).
        var time = new FakeTimeProvider();
        await using var broker = TestBroker.Create(time: time);
        await DisconnectWithSubscriptionAsync(broker, ProtocolVersion.V311, "keeper", null);
        time.Advance(TimeSpan.FromHours(23));
        broker.Housekeep();
        var before = new TestClient(broker, ProtocolVersion.V311);
        Assert.True((await before.ConnectAsync("keeper", cleanStart: false)).SessionPresent);
        await before.DisconnectAsync();
        await before.DisposeAsync();

        time.Advance(TimeSpan.FromDays(1) + TimeSpan.FromSeconds(1));
        broker.Housekeep();
        Assert.Equal(0, broker.SessionCount);
        await using var after = new TestClient(broker, ProtocolVersion.V311);
        Assert.False((await after.ConnectAsync("keeper", cleanStart: false)).SessionPresent);
    }

    [Fact]
    public async Task V3PersistentSession_IsKeptForever_WithoutADefaultExpiry()
    {
        var time = new FakeTimeProvider();
        await using var broker = TestBroker.Create(o => o.DefaultSessionExpirySeconds = null, time);
        await DisconnectWithSubscriptionAsync(broker, ProtocolVersion.V311, "keeper", null);
        time.Advance(TimeSpan.FromDays(400));
        broker.Housekeep();
        await using var again = new TestClient(broker, ProtocolVersion.V311);
        Assert.True((await again.ConnectAsync("keeper", cleanStart: false)).SessionPresent);
    }

    [Theory]
    [InlineData(ProtocolVersion.V500, ReasonCode.QuotaExceeded)]
    [InlineData(ProtocolVersion.V311, ReasonCode.ServerUnavailable)]
    public async Task NewPersistentSessions_BeyondMaxOfflineSessions_AreRefused_ResumingAndCleanOnesAreNot(ProtocolVersion version, ReasonCode refusal)
    {
        await using var broker = TestBroker.Create(o => o.MaxOfflineSessions = 2);
        var properties = version == ProtocolVersion.V500 ? Expiry(300) : null;
        await DisconnectWithSubscriptionAsync(broker, version, "away-1", properties);
        await DisconnectWithSubscriptionAsync(broker, version, "away-2", properties);
        Assert.Equal(2, broker.OfflineSessionCount);

        await using (var third = new TestClient(broker, version))
            Assert.Equal(refusal, (await third.ConnectAsync("away-3", cleanStart: false, properties: properties)).ReasonCode);
        await using (var clean = new TestClient(broker, version))
            Assert.Equal(ReasonCode.Success, (await clean.ConnectAsync("passing-by", cleanStart: true)).ReasonCode);
        var inProcessRefusal = await Assert.ThrowsAsync<Clients.InProcessClientException>(() => Clients.InProcessClient.ConnectAsync(broker,
            new Clients.InProcessClientOptions { ClientId = "away-4", CleanStart = false, SessionExpiryInterval = 300 }));
        Assert.Equal(ReasonCode.QuotaExceeded, inProcessRefusal.Reason);

        // Coming back to an existing session is always allowed; while it is connected, there is room for one more.
        await using var back = new TestClient(broker, version);
        var resumed = await back.ConnectAsync("away-1", cleanStart: false, properties: properties);
        Assert.Equal((ReasonCode.Success, true), (resumed.ReasonCode, resumed.SessionPresent));
        await using var another = new TestClient(broker, version);
        Assert.Equal(ReasonCode.Success, (await another.ConnectAsync("away-3", cleanStart: false, properties: properties)).ReasonCode);
    }

    [Fact]
    public async Task V3PersistentSession_IsDiscardedAfterMaxSessionExpiry()
    {
        var time = new FakeTimeProvider();
        await using var broker = TestBroker.Create(o => o.MaxSessionExpirySeconds = 60, time);
        await DisconnectWithSubscriptionAsync(broker, ProtocolVersion.V311, "bounded", null);

        time.Advance(TimeSpan.FromSeconds(59));
        broker.Housekeep();
        var before = new TestClient(broker, ProtocolVersion.V311);
        Assert.True((await before.ConnectAsync("bounded", cleanStart: false)).SessionPresent);
        await before.DisconnectAsync();
        await before.DisposeAsync();

        time.Advance(TimeSpan.FromSeconds(61));
        broker.Housekeep();
        Assert.Equal(0, broker.SessionCount);
        Assert.Equal(0, broker.Subscriptions.Count);
        await using var after = new TestClient(broker, ProtocolVersion.V311);
        Assert.False((await after.ConnectAsync("bounded", cleanStart: false)).SessionPresent);
    }

    [Fact]
    public async Task V5SessionExpiryInterval_IsHonoured() // [MQTT-3.1.2-23], [MQTT-4.1.0-2]
    {
        var time = new FakeTimeProvider();
        await using var broker = TestBroker.Create(time: time);
        await DisconnectWithSubscriptionAsync(broker, ProtocolVersion.V500, "expiring", Expiry(30));

        time.Advance(TimeSpan.FromSeconds(29));
        broker.Housekeep();
        var before = new TestClient(broker, ProtocolVersion.V500);
        Assert.True((await before.ConnectAsync("expiring", cleanStart: false, properties: Expiry(30))).SessionPresent);
        await before.DisconnectAsync();
        await before.DisposeAsync();

        time.Advance(TimeSpan.FromSeconds(31));
        broker.Housekeep();
        await using var after = new TestClient(broker, ProtocolVersion.V500);
        Assert.False((await after.ConnectAsync("expiring", cleanStart: false, properties: Expiry(30))).SessionPresent);
    }

    [Fact]
    public async Task V5SessionExpiryInterval_IsCappedByMaxSessionExpiry_AndTheCapIsReportedInConnAck()
    {
        var time = new FakeTimeProvider();
        await using var broker = TestBroker.Create(o => o.MaxSessionExpirySeconds = 10, time);
        var client = new TestClient(broker, ProtocolVersion.V500);
        var ack = await client.ConnectAsync("capped", cleanStart: false, properties: Expiry(100));
        Assert.Equal(10u, ack.Properties?.SessionExpiryInterval); // v5 3.2.2.3.2: the server's value wins and is sent
        await client.SubscribeAsync("t");
        await client.DisconnectAsync();
        await client.DisposeAsync();

        time.Advance(TimeSpan.FromSeconds(9));
        broker.Housekeep();
        Assert.Equal(1, broker.SessionCount);
        time.Advance(TimeSpan.FromSeconds(2));
        broker.Housekeep();
        Assert.Equal(0, broker.SessionCount);
        await using var after = new TestClient(broker, ProtocolVersion.V500);
        Assert.False((await after.ConnectAsync("capped", cleanStart: false, properties: Expiry(100))).SessionPresent);
    }

    [Fact]
    public async Task V5SessionExpiryZero_EndsTheSessionAtDisconnect()
    {
        await using var broker = TestBroker.Create();
        await DisconnectWithSubscriptionAsync(broker, ProtocolVersion.V500, "brief", properties: null);
        Assert.Equal(0, broker.SessionCount);
        Assert.Equal(0, broker.Subscriptions.Count);
        await using var again = new TestClient(broker, ProtocolVersion.V500);
        Assert.False((await again.ConnectAsync("brief", cleanStart: false)).SessionPresent);
    }

    [Fact]
    public async Task PersistentSession_KeepsSubscriptionsAndQueuesQoS1And2_ButNotQoS0_WhileOffline() // [MQTT-3.1.2-5], [MQTT-4.5.0-1]
    {
        await using var broker = TestBroker.Create();
        var sub = new TestClient(broker, ProtocolVersion.V311);
        await sub.ConnectAsync("offline", cleanStart: false);
        await sub.SubscribeAsync("q/#", QualityOfService.ExactlyOnce);
        await sub.DisconnectAsync();
        await sub.DisposeAsync();

        await using var publisher = new TestClient(broker, ProtocolVersion.V311);
        await publisher.ConnectAsync("publisher");
        await publisher.PublishAndSettleAsync("q/a", "zero", QualityOfService.AtMostOnce);
        await publisher.PublishAndSettleAsync("q/b", "one", QualityOfService.AtLeastOnce);
        await publisher.PublishAndSettleAsync("q/c", "two", QualityOfService.ExactlyOnce);

        await using var again = new TestClient(broker, ProtocolVersion.V311);
        Assert.True((await again.ConnectAsync("offline", cleanStart: false)).SessionPresent);
        var one = await again.ExpectPublishAsync();
        var two = await again.ExpectPublishAsync();
        Assert.Equal(("one", QualityOfService.AtLeastOnce), (Text.Of(one.Payload), one.QoS));
        Assert.Equal(("two", QualityOfService.ExactlyOnce), (Text.Of(two.Payload), two.QoS));
        await again.ExpectNothingAsync();

        // The subscription itself survived too.
        await publisher.PublishAndSettleAsync("q/d", "live", QualityOfService.AtMostOnce);
        Assert.Equal("live", Text.Of((await again.ExpectPublishAsync()).Payload));
    }

    private static async Task DisconnectWithSubscriptionAsync(MqttBroker broker, ProtocolVersion version, string clientId, MqttProperties? properties)
    {
        await using var client = new TestClient(broker, version);
        await client.ConnectAsync(clientId, cleanStart: false, properties: properties);
        await client.SubscribeAsync("s/#", QualityOfService.AtLeastOnce);
        await client.DisconnectAsync();
    }
}
