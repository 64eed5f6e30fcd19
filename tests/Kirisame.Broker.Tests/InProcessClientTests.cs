using System.Text;
using Kirisame.Broker.Clients;
using Kirisame.Broker.Security;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Microsoft.Extensions.Time.Testing;

namespace Kirisame.Broker.Tests;

/// The in-process client against network clients (TestClient speaks MQTT bytes over a pipe), both ways:
/// QoS 0/1/2, retained messages, wills, takeover, persistence, the ACL and $SYS.
public sealed class InProcessClientTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);

    private static Task<InProcessClient> ConnectAsync(MqttBroker broker, string clientId, Func<InProcessClientOptions, InProcessClientOptions>? configure = null)
    {
        var options = new InProcessClientOptions { ClientId = clientId };
        return InProcessClient.ConnectAsync(broker, configure?.Invoke(options) ?? options);
    }

    private static async Task<InProcessMessage> ReceiveAsync(InProcessClient client)
    {
        using var cts = new CancellationTokenSource(s_timeout);
        return await client.ReceiveAsync(cts.Token);
    }

    private static string Text(InProcessMessage message) => Encoding.UTF8.GetString(message.Payload.Span);

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    [Theory]
    [InlineData(QualityOfService.AtMostOnce)]
    [InlineData(QualityOfService.AtLeastOnce)]
    [InlineData(QualityOfService.ExactlyOnce)]
    public async Task NetworkPublisher_ReachesAnInProcessSubscriber(QualityOfService qos)
    {
        await using var broker = TestBroker.Create();
        await using var subscriber = await ConnectAsync(broker, "local");
        Assert.Equal([ReasonCode.GrantedQoS2], await subscriber.SubscribeAsync("t/#", QualityOfService.ExactlyOnce));

        await using var publisher = new TestClient(broker, ProtocolVersion.V500);
        await publisher.ConnectAsync("remote");
        Assert.Equal(ReasonCode.Success, await publisher.PublishAndSettleAsync("t/1", "hello", qos));

        var message = await ReceiveAsync(subscriber);
        Assert.Equal(("t/1", "hello", qos, false), (message.Topic, Text(message), message.QoS, message.Retain));
    }

    [Theory]
    [InlineData(QualityOfService.AtLeastOnce)]
    [InlineData(QualityOfService.ExactlyOnce)]
    public async Task ReadingADelivery_AcknowledgesIt_SoTheWindowMovesOn(QualityOfService qos)
    {
        // A window of 2: all 10 messages arrive only if each read one is acknowledged (PUBACK, or PUBREC/PUBCOMP).
        await using var broker = TestBroker.Create();
        await using var subscriber = await ConnectAsync(broker, "local", o => o with { ReceiveMaximum = 2 });
        await subscriber.SubscribeAsync("t", qos);
        await using var publisher = await ConnectAsync(broker, "local-publisher");
        for (var i = 0; i < 10; i++)
            Assert.Equal(ReasonCode.Success, await publisher.PublishAsync("t", Bytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture)), qos));

        for (var i = 0; i < 10; i++)
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), Text(await ReceiveAsync(subscriber)));
    }

    [Theory]
    [InlineData(QualityOfService.AtMostOnce)]
    [InlineData(QualityOfService.AtLeastOnce)]
    [InlineData(QualityOfService.ExactlyOnce)]
    public async Task InProcessPublisher_ReachesANetworkSubscriber(QualityOfService qos)
    {
        await using var broker = TestBroker.Create();
        await using var subscriber = new TestClient(broker, ProtocolVersion.V500);
        await subscriber.ConnectAsync("remote");
        await subscriber.SubscribeAsync("t/#", QualityOfService.ExactlyOnce);
        await using var publisher = await ConnectAsync(broker, "local");

        Assert.Equal(ReasonCode.Success, await publisher.PublishAsync("t/2", Bytes("from inside"), qos));
        var publish = await subscriber.ExpectPublishAsync();
        Assert.Equal(("t/2", "from inside", qos), (publish.TopicString, Kirisame.Broker.Tests.Text.Of(publish.Payload), publish.QoS));
        Assert.Equal(ReasonCode.NoMatchingSubscribers, await publisher.PublishAsync("nobody/listens", Bytes("x"), qos));
    }

    [Fact]
    public async Task RetainedMessages_GoBothWays()
    {
        await using var broker = TestBroker.Create();
        await using var local = await ConnectAsync(broker, "local");
        Assert.Equal(ReasonCode.NoMatchingSubscribers, await local.PublishAsync("kept/local", Bytes("L"), QualityOfService.AtLeastOnce, retain: true));
        await using var remote = new TestClient(broker, ProtocolVersion.V311);
        await remote.ConnectAsync("remote");
        await remote.PublishAndSettleAsync("kept/remote", "R", QualityOfService.AtLeastOnce, retain: true);

        await remote.SubscribeAsync("kept/local");
        var fromLocal = await remote.ExpectPublishAsync();
        Assert.Equal(("kept/local", "L", true), (fromLocal.TopicString, Kirisame.Broker.Tests.Text.Of(fromLocal.Payload), fromLocal.Retain));

        await local.SubscribeAsync("kept/remote", QualityOfService.AtLeastOnce);
        var fromRemote = await ReceiveAsync(local);
        Assert.Equal(("kept/remote", "R", true), (fromRemote.Topic, Text(fromRemote), fromRemote.Retain));
    }

    [Fact]
    public async Task Wills_GoBothWays_AndATakeoverDisconnectsTheInProcessClient()
    {
        await using var broker = TestBroker.Create();
        var will = new WillMessage { Topic = "wills/local", Payload = Bytes("local gone"), QoS = QualityOfService.AtLeastOnce };
        var local = await ConnectAsync(broker, "shared-id", o => o with { Will = will });
        await using var watcher = new TestClient(broker, ProtocolVersion.V500);
        await watcher.ConnectAsync("watcher");
        await watcher.SubscribeAsync("wills/#", QualityOfService.AtLeastOnce);

        // A network client with the same id takes the session over: the in-process client is told 0x8E and its
        // will is published, as for a connection taken over.
        await using var taker = new TestClient(broker, ProtocolVersion.V500);
        Assert.Equal(ReasonCode.Success, (await taker.ConnectAsync("shared-id")).ReasonCode);
        await local.Disconnected.WaitAsync(s_timeout);
        Assert.False(local.IsConnected);
        Assert.Equal(ReasonCode.SessionTakenOver, local.DisconnectReason);
        Assert.Equal("local gone", Kirisame.Broker.Tests.Text.Of((await watcher.ExpectPublishAsync()).Payload));

        // A network client's will reaches an in-process subscriber.
        await using var listener = await ConnectAsync(broker, "listener");
        await listener.SubscribeAsync("wills/#", QualityOfService.AtLeastOnce);
        await using var doomed = new TestClient(broker, ProtocolVersion.V311);
        await doomed.ConnectAsync("doomed", will: new WillMessage { Topic = "wills/remote", Payload = Bytes("remote gone"), QoS = QualityOfService.AtLeastOnce });
        await doomed.DropAsync();
        var message = await ReceiveAsync(listener);
        Assert.Equal(("wills/remote", "remote gone"), (message.Topic, Text(message)));

        // A normal disconnect discards the will; asked to, it publishes it.
        var quiet = await ConnectAsync(broker, "quiet", o => o with { Will = new WillMessage { Topic = "wills/quiet", Payload = Bytes("no") } });
        await quiet.DisconnectAsync();
        var loud = await ConnectAsync(broker, "loud", o => o with { Will = new WillMessage { Topic = "wills/loud", Payload = Bytes("yes") } });
        await loud.DisconnectAsync(publishWill: true);
        Assert.Equal("wills/loud", (await ReceiveAsync(listener)).Topic);
    }

    [Fact]
    public async Task UpdateWill_ReplacesOrRemovesTheWill_AndIsCheckedAsAtConnect()
    {
        await using var broker = TestBroker.Create();
        await using var listener = await ConnectAsync(broker, "listener");
        await listener.SubscribeAsync("wills/#", QualityOfService.AtLeastOnce);

        var changed = await ConnectAsync(broker, "changed", o => o with { Will = new WillMessage { Topic = "wills/old", Payload = Bytes("old") } });
        changed.UpdateWill(new WillMessage { Topic = "wills/new", Payload = Bytes("new") });
        var refused = Assert.Throws<InProcessClientException>(() => changed.UpdateWill(new WillMessage { Topic = "wills/#", Payload = Bytes("x") }));
        Assert.Equal(ReasonCode.TopicNameInvalid, refused.Reason);
        await changed.DisconnectAsync(publishWill: true);
        var published = await ReceiveAsync(listener);
        Assert.Equal(("wills/new", "new"), (published.Topic, Text(published))); // the refused update left the new will

        var removed = await ConnectAsync(broker, "removed", o => o with { Will = new WillMessage { Topic = "wills/removed", Payload = Bytes("no") } });
        removed.UpdateWill(null);
        await removed.DisconnectAsync(publishWill: true);
        var marker = await ConnectAsync(broker, "marker", o => o with { Will = new WillMessage { Topic = "wills/marker", Payload = Bytes("m") } });
        await marker.DisconnectAsync(publishWill: true);
        Assert.Equal("wills/marker", (await ReceiveAsync(listener)).Topic); // nothing was published for "removed" before it
    }

    [Fact]
    public async Task APersistentSession_KeepsWhatArrivedWhileAway()
    {
        await using var broker = TestBroker.Create();
        var first = await ConnectAsync(broker, "durable", o => o with { CleanStart = false, SessionExpiryInterval = 600 });
        Assert.False(first.SessionPresent);
        await first.SubscribeAsync("news", QualityOfService.AtLeastOnce);
        await first.DisconnectAsync();

        await using var remote = new TestClient(broker, ProtocolVersion.V500);
        await remote.ConnectAsync("remote");
        Assert.Equal(ReasonCode.Success, await remote.PublishAndSettleAsync("news", "while away", QualityOfService.AtLeastOnce));

        await using var again = await ConnectAsync(broker, "durable", o => o with { CleanStart = false, SessionExpiryInterval = 600 });
        Assert.True(again.SessionPresent);
        Assert.Equal("while away", Text(await ReceiveAsync(again)));
    }

    [Theory]
    [InlineData(QualityOfService.AtLeastOnce)]
    [InlineData(QualityOfService.ExactlyOnce)]
    public async Task WithoutAcknowledgeOnRead_AnUnacknowledgedDelivery_IsDeliveredAgainAfterAReconnect(QualityOfService qos)
    {
        await using var broker = TestBroker.Create();
        InProcessClientOptions Configure(InProcessClientOptions o) => o with { CleanStart = false, SessionExpiryInterval = 600, AcknowledgeOnRead = false };
        var first = await ConnectAsync(broker, "forwarder", Configure);
        await first.SubscribeAsync("out/#", qos);
        await using var publisher = await ConnectAsync(broker, "publisher");
        await publisher.PublishAsync("out/1", Bytes("kept"), qos);
        await publisher.PublishAsync("out/2", Bytes("done"), qos);
        var kept = await ReceiveAsync(first);
        var done = await ReceiveAsync(first);
        first.Acknowledge(done);
        await first.DisconnectAsync();

        await using var again = await ConnectAsync(broker, "forwarder", Configure);
        var redelivered = await ReceiveAsync(again);
        again.Acknowledge(redelivered);

        Assert.Equal(("out/1", "kept"), (kept.Topic, Text(kept)));
        Assert.Equal(("out/1", "kept", true), (redelivered.Topic, Text(redelivered), redelivered.Duplicate));
        Assert.False(again.TryReceive(out var extra), $"only the unacknowledged one comes again, not {extra?.Topic}");
    }

    private sealed class Acl : IAuthorizer
    {
        public bool CanPublish(string clientId, string? userName, string topic) => userName != "bob" || !topic.StartsWith("secret/", StringComparison.Ordinal);

        public bool CanSubscribe(string clientId, string? userName, string filter) => userName != "bob" || !filter.StartsWith("secret/", StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheAcl_AppliesToInProcessClients_AsToNetworkOnes()
    {
        await using var broker = TestBroker.Create(authorizer: new Acl());
        await using var bob = await ConnectAsync(broker, "bob-local", o => o with { UserName = "bob" });
        Assert.Equal(ReasonCode.NotAuthorized, await bob.PublishAsync("secret/plans", Bytes("x"), QualityOfService.AtLeastOnce));
        Assert.Equal([ReasonCode.NotAuthorized, ReasonCode.GrantedQoS1],
            await bob.SubscribeAsync([new TopicSubscription("secret/#", QualityOfService.AtLeastOnce), new TopicSubscription("public/#", QualityOfService.AtLeastOnce)]));

        await using var remoteBob = new TestClient(broker, ProtocolVersion.V500);
        await remoteBob.ConnectAsync("bob-remote", userName: "bob");
        Assert.Equal(ReasonCode.NotAuthorized, await remoteBob.PublishAndSettleAsync("secret/plans", "x", QualityOfService.AtLeastOnce));
        Assert.Equal(2, broker.Statistics.MessagesDropped); // both refusals counted
    }

    [Fact]
    public async Task BadTopics_AndSys_AreRefused()
    {
        await using var broker = TestBroker.Create();
        await using var client = await ConnectAsync(broker, "local");
        Assert.Equal(ReasonCode.TopicNameInvalid, await client.PublishAsync("a/+", Bytes("x")));
        Assert.Equal(ReasonCode.TopicNameInvalid, await client.PublishAsync("", Bytes("x")));
        Assert.Equal(ReasonCode.NotAuthorized, await client.PublishAsync("$SYS/broker/uptime", Bytes("forever"), QualityOfService.AtLeastOnce));
        Assert.Equal([ReasonCode.TopicFilterInvalid], await client.SubscribeAsync("a/#/b"));
        Assert.Equal([ReasonCode.NoSubscriptionExisted], await client.UnsubscribeAsync("never"));
    }

    [Fact]
    public async Task Sys_IsPublishedThroughTheBrokersOwnInProcessClient_AndIsNotCountedAsReceived()
    {
        var time = new FakeTimeProvider();
        await using var broker = TestBroker.Create(o => o.SysInterval = 1, time);
        broker.Start();
        await using var watcher = await ConnectAsync(broker, "watcher");
        await watcher.SubscribeAsync("$SYS/broker/#");
        var values = new Dictionary<string, string>();
        while (watcher.TryReceive(out var retained))
            values[retained.Topic] = Text(retained);
        Assert.Equal("0", values["$SYS/broker/messages/received"]); // its own $SYS messages are not counted
        Assert.Equal("0", values["$SYS/broker/clients/total"]); // nor its own session
        Assert.StartsWith("kirisame ", values["$SYS/broker/version"], StringComparison.Ordinal);

        time.Advance(TimeSpan.FromSeconds(1));
        broker.Housekeep();
        var update = await ReceiveAsync(watcher);
        Assert.StartsWith("$SYS/broker/", update.Topic, StringComparison.Ordinal);
        Assert.False(update.Retain); // a live update, not the retained copy a new subscription gets
    }

    [Fact]
    public async Task StoppingTheBroker_DisconnectsInProcessClients_WithoutTheirWills()
    {
        var broker = TestBroker.Create();
        await using var listener = new TestClient(broker, ProtocolVersion.V500);
        await listener.ConnectAsync("listener");
        await listener.SubscribeAsync("wills/#");
        var client = await ConnectAsync(broker, "local", o => o with { Will = new WillMessage { Topic = "wills/local", Payload = Bytes("x") } });
        await broker.StopAsync(CancellationToken.None);
        await client.Disconnected.WaitAsync(s_timeout);
        Assert.Equal(ReasonCode.ServerShuttingDown, client.DisconnectReason);
        await Assert.ThrowsAsync<InProcessClientException>(() => ConnectAsync(broker, "late"));
    }
}
