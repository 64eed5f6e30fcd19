using Kirisame.Broker.Clients;
using Kirisame.Broker.Security;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Microsoft.Extensions.Time.Testing;

namespace Kirisame.Broker.Tests.Admin;

/// IBrokerAdmin's overview, subscriptions made by an administrator, and in-process clients held to a listener's rules.
public sealed class BrokerAdminOverviewTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    [Fact]
    public async Task Overview_CountsSessionsSubscriptionsRetainedAndMessages_LeavingTheBrokersOwnOut()
    {
        var time = new FakeTimeProvider(Start);
        await using var broker = TestBroker.Create(o => o.SysInterval = 10, time: time);
        broker.Start();
        await using var subscriber = await InProcessClient.ConnectAsync(broker, new InProcessClientOptions { ClientId = "sub" });
        await subscriber.SubscribeAsync("a/#", QualityOfService.AtLeastOnce);
        await using var publisher = await InProcessClient.ConnectAsync(broker, new InProcessClientOptions { ClientId = "pub" });
        await publisher.PublishAsync("a/1", "xyz"u8.ToArray(), QualityOfService.AtLeastOnce, retain: true);
        await publisher.PublishAsync("$SYS/nope", "x"u8.ToArray());
        time.Advance(TimeSpan.FromSeconds(30));

        var overview = broker.Admin.GetOverview();

        Assert.Equal(MqttBroker.Version, overview.Version);
        Assert.Equal(Start, overview.StartedAt);
        Assert.Equal(2, overview.Sessions);
        Assert.Equal(1, overview.Subscriptions);
        Assert.Equal(2, overview.MessagesReceived);
        Assert.Equal(1, overview.MessagesSent);
        Assert.Equal(1, overview.MessagesDropped);
        Assert.True(overview.RetainedMessages >= 1);
        Assert.True(overview.StoreHealthy);
    }

    [Fact]
    public async Task Subscribe_ForASession_DeliversMatchingRetained_AndUnsubscribeRemovesIt()
    {
        await using var broker = TestBroker.Create();
        await using var client = await InProcessClient.ConnectAsync(broker, new InProcessClientOptions { ClientId = "target" });
        await using var publisher = await InProcessClient.ConnectAsync(broker, new InProcessClientOptions { ClientId = "pub" });
        await publisher.PublishAsync("news/today", "kept"u8.ToArray(), QualityOfService.AtLeastOnce, retain: true);

        var added = broker.Admin.Subscribe("target", new TopicSubscription("news/+", QualityOfService.ExactlyOnce));

        Assert.Equal((ReasonCode)2, added!.Value.Code);
        Assert.Null(added.Value.Reason);
        var retained = await client.ReceiveAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(retained.Retain);
        Assert.Equal("news/+", Assert.Single(broker.Admin.GetSubscriptions("target")!).Filter);
        Assert.Equal(ReasonCode.Success, broker.Admin.Unsubscribe("target", "news/+"));
        Assert.Equal(ReasonCode.NoSubscriptionExisted, broker.Admin.Unsubscribe("target", "news/+"));
        Assert.Empty(broker.Admin.GetSubscriptions("target")!);
        Assert.Null(broker.Admin.Subscribe("nobody", new TopicSubscription("x", QualityOfService.AtMostOnce)));
        Assert.Null(broker.Admin.Unsubscribe("nobody", "x"));
    }

    [Fact]
    public async Task Subscribe_ForASession_RefusesAnInvalidFilter_AndChangesNothing()
    {
        await using var broker = TestBroker.Create();
        await using var client = await InProcessClient.ConnectAsync(broker, new InProcessClientOptions { ClientId = "target" });

        var refused = broker.Admin.Subscribe("target", new TopicSubscription("a/#/b", QualityOfService.AtMostOnce));

        Assert.Equal(ReasonCode.TopicFilterInvalid, refused!.Value.Code);
        Assert.Contains("a/#/b", refused.Value.Reason, StringComparison.Ordinal);
        Assert.Empty(broker.Admin.GetSubscriptions("target")!);
    }

    [Fact]
    public async Task AnInProcessClient_NamingAListener_IsHeldToThatListenersRules()
    {
        var authorizer = new ListenerAuthorizer(new Dictionary<string, IAuthorizer> { ["api"] = AllowAll.Instance });
        await using var broker = new MqttBroker(new BrokerOptions(), authorizer: authorizer);
        await using var named = await InProcessClient.ConnectAsync(broker, new InProcessClientOptions { ClientId = "named", Listener = "api" });
        await using var unnamed = await InProcessClient.ConnectAsync(broker, new InProcessClientOptions { ClientId = "unnamed" });

        Assert.Equal(ReasonCode.NoMatchingSubscribers, await named.PublishAsync("t", "x"u8.ToArray()));
        Assert.Equal(ReasonCode.NotAuthorized, await unnamed.PublishAsync("t", "x"u8.ToArray()));
    }
}
