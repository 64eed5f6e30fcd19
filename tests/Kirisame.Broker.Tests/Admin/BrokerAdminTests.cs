using System.Net;
using Kirisame.Broker.Admin;
using Kirisame.Broker.Clients;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;
using Microsoft.Extensions.Time.Testing;

namespace Kirisame.Broker.Tests.Admin;

/// IBrokerAdmin: what it lists and inspects, and what its acts do to clients, sessions and retained messages.
public sealed class BrokerAdminTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    [Fact]
    public async Task Clients_ListConnectedAndDisconnected_WithTheirDetails_ButNotTheBrokersOwn()
    {
        var time = new FakeTimeProvider(Start);
        await using var broker = TestBroker.Create(o => o.SysInterval = 10, time: time);
        broker.Start(); // the $SYS client connects: it is not listed
        var info = new ConnectionInfo("c1", new IPEndPoint(IPAddress.Loopback, 50000), null, "tls");
        await using var live = new TestClient(broker, ProtocolVersion.V500, info: info);
        await live.ConnectAsync("live", keepAlive: 30, userName: "alice", password: [1]);
        var away = new TestClient(broker, ProtocolVersion.V311);
        await away.ConnectAsync("away", cleanStart: false);
        await away.DisconnectAsync();
        await away.DisposeAsync();
        await using var inProcess = await InProcessClient.ConnectAsync(broker, new InProcessClientOptions { ClientId = "embedded", UserName = "bob" });

        var clients = broker.Admin.GetClients().OrderBy(c => c.ClientId, StringComparer.Ordinal).ToList();
        Assert.Equal(["away", "embedded", "live"], clients.Select(c => c.ClientId));
        Assert.Equal(new ClientSnapshot("live", true, "127.0.0.1:50000", "tls", ProtocolVersion.V500, "alice", Start, 30), clients[2]);
        Assert.Equal(new ClientSnapshot("away", false, null, null, null, null, null, 0), clients[0]);
        Assert.Equal(new ClientSnapshot("embedded", true, "in-process", null, ProtocolVersion.V500, "bob", Start, 0), clients[1]);
        Assert.Equal(clients[2], broker.Admin.GetClient("live"));
        Assert.Null(broker.Admin.GetClient("nobody"));
        Assert.DoesNotContain(broker.Admin.GetSessions(), s => s.ClientId.StartsWith('\0'));
    }

    [Fact]
    public async Task Session_ShowsQueueExpiryAndSubscriptions()
    {
        var time = new FakeTimeProvider(Start);
        await using var broker = TestBroker.Create(time: time);
        var sub = new TestClient(broker, ProtocolVersion.V500);
        await sub.ConnectAsync("sub", properties: new MqttProperties { SessionExpiryInterval = 600 });
        await sub.SubscribeAsync("a/+", QualityOfService.AtLeastOnce, new MqttProperties { SubscriptionIdentifiers = [7] }, noLocal: true);
        await sub.SubscribeAsync("$share/g/b/#");
        time.Advance(TimeSpan.FromSeconds(5));
        await sub.DisconnectAsync();
        await sub.DisposeAsync();
        await using var pub = new TestClient(broker, ProtocolVersion.V500);
        await pub.ConnectAsync("pub");
        await pub.PublishAndSettleAsync("a/1", "12345", QualityOfService.AtLeastOnce);
        await pub.PublishAndSettleAsync("a/2", "12345", QualityOfService.AtLeastOnce);

        var session = broker.Admin.GetSession("sub")!;
        Assert.False(session.Connected);
        Assert.Equal(2, session.PendingMessages);
        Assert.Equal(2 * ("a/1".Length + 5), session.PendingBytes);
        Assert.Equal(0, session.InflightMessages);
        Assert.Equal(600u, session.ExpiryInterval);
        Assert.Equal(Start + TimeSpan.FromSeconds(5 + 600), session.ExpiresAt);
        Assert.Equal(2, session.SubscriptionCount);
        Assert.Empty(session.Drops);

        var subscriptions = broker.Admin.GetSubscriptions("sub")!.OrderBy(s => s.Filter, StringComparer.Ordinal).ToList();
        Assert.Equal(new SubscriptionSnapshot("$share/g/b/#", "g", QualityOfService.AtMostOnce, false, false, RetainHandling.SendOnSubscribe, 0), subscriptions[0]);
        Assert.Equal(new SubscriptionSnapshot("a/+", null, QualityOfService.AtLeastOnce, true, false, RetainHandling.SendOnSubscribe, 7), subscriptions[1]);
        Assert.Equal(2, broker.Admin.SubscriptionCount);
        Assert.Null(broker.Admin.GetSubscriptions("nobody"));

        var live = broker.Admin.GetSession("pub")!;
        Assert.True(live.Connected);
        Assert.Null(live.ExpiresAt);
    }

    [Fact]
    public async Task Retained_CountLookupWithLimitAndDelete()
    {
        await using var broker = TestBroker.Create();
        await using var pub = new TestClient(broker, ProtocolVersion.V500);
        await pub.ConnectAsync("pub");
        await pub.PublishAndSettleAsync("r/1", "one", retain: true);
        await pub.PublishAndSettleAsync("r/2", "two", QualityOfService.AtLeastOnce, retain: true);
        await pub.PublishAndSettleAsync("r/3", "three", retain: true);
        await pub.PublishAndSettleAsync("other", "x", retain: true);

        Assert.Equal(4, broker.Admin.RetainedCount);
        Assert.Equal(3, broker.Admin.FindRetained("r/#").Count);
        Assert.Equal(2, broker.Admin.FindRetained("r/#", limit: 2).Count);
        var two = Assert.Single(broker.Admin.FindRetained("r/2"));
        Assert.Equal(("r/2", QualityOfService.AtLeastOnce, "two", "pub"), (two.Topic, two.QoS, Text.Of(two.Payload), two.PublisherClientId));

        Assert.True(broker.Admin.DeleteRetained("r/2"));
        Assert.False(broker.Admin.DeleteRetained("r/2"));
        Assert.Equal(3, broker.Admin.RetainedCount);
        await using var late = new TestClient(broker, ProtocolVersion.V500);
        await late.ConnectAsync("late");
        await late.SubscribeAsync("r/2");
        await late.ExpectNothingAsync(); // deleted: not delivered on subscribe
    }

    [Fact]
    public async Task DisconnectClient_SendsAdministrativeAction_AndPublishesTheWill_KeepingTheSession()
    {
        await using var broker = TestBroker.Create();
        await using var watcher = new TestClient(broker, ProtocolVersion.V500);
        await watcher.ConnectAsync("watcher");
        await watcher.SubscribeAsync("wills/#");
        await using var target = new TestClient(broker, ProtocolVersion.V500);
        await target.ConnectAsync("target", will: new WillMessage { Topic = "wills/target", Payload = "gone"u8.ToArray() },
            properties: new MqttProperties { SessionExpiryInterval = 60 });

        Assert.True(broker.Admin.DisconnectClient("target"));

        var disconnect = await target.ExpectAsync<DisconnectPacket>();
        Assert.Equal(ReasonCode.AdministrativeAction, disconnect.ReasonCode);
        await target.ExpectClosedAsync();
        Assert.Equal("gone", Text.Of((await watcher.ExpectPublishAsync()).Payload));
        Assert.False(broker.Admin.GetClient("target")!.Connected);
        Assert.False(broker.Admin.DisconnectClient("target"));
        Assert.False(broker.Admin.DisconnectClient("nobody"));
    }

    [Fact]
    public async Task DisconnectClient_InProcess_IsToldAdministrativeAction()
    {
        await using var broker = TestBroker.Create();
        await using var client = await InProcessClient.ConnectAsync(broker, new InProcessClientOptions { ClientId = "embedded" });
        Assert.True(broker.Admin.DisconnectClient("embedded"));
        await client.Disconnected.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(ReasonCode.AdministrativeAction, client.DisconnectReason);
    }

    [Fact]
    public async Task DeleteSession_OfAConnectedClient_DisconnectsItAndForgetsEverything()
    {
        await using var broker = TestBroker.Create();
        await using var client = new TestClient(broker, ProtocolVersion.V500);
        await client.ConnectAsync("c", properties: new MqttProperties { SessionExpiryInterval = 3600 });
        await client.SubscribeAsync("s", QualityOfService.AtLeastOnce);

        Assert.True(await broker.Admin.DeleteSessionAsync("c"));

        Assert.Equal(ReasonCode.AdministrativeAction, (await client.ExpectAsync<DisconnectPacket>()).ReasonCode);
        await client.ExpectClosedAsync();
        Assert.Null(broker.Admin.GetSession("c"));
        Assert.Equal(0, broker.Admin.SubscriptionCount);
        await using var again = new TestClient(broker, ProtocolVersion.V500);
        Assert.False((await again.ConnectAsync("c", cleanStart: false, properties: new MqttProperties { SessionExpiryInterval = 3600 })).SessionPresent);
    }

    [Fact]
    public async Task DeleteSession_OfADisconnectedClient_DropsItsQueue()
    {
        await using var broker = TestBroker.Create();
        await TestClient.LeaveOfflineSessionAsync(broker, "away", "q");
        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await pub.ConnectAsync("pub");
        await pub.PublishAndSettleAsync("q", "queued", QualityOfService.AtLeastOnce);

        Assert.True(await broker.Admin.DeleteSessionAsync("away"));
        Assert.False(await broker.Admin.DeleteSessionAsync("away"));

        Assert.Null(broker.FindSession("away"));
        Assert.Equal(ReasonCode.Success, await pub.PublishAndSettleAsync("q", "nobody", QualityOfService.AtLeastOnce)); // 3.1.1: no 0x10
        await using var back = new TestClient(broker, ProtocolVersion.V311);
        Assert.False((await back.ConnectAsync("away", cleanStart: false)).SessionPresent);
        await back.ExpectNothingAsync();
    }
}
