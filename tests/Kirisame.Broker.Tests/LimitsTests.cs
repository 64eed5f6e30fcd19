using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Microsoft.Extensions.Time.Testing;

namespace Kirisame.Broker.Tests;

/// Broker-level limits: subscriptions per client, topic length and depth, publish rate.
public sealed class LimitsTests
{
    [Theory]
    [InlineData(ProtocolVersion.V311, ReasonCode.UnspecifiedError)] // 0x80
    [InlineData(ProtocolVersion.V500, ReasonCode.QuotaExceeded)] // 0x97
    public async Task SubscriptionsBeyondTheLimit_AreRefused_ButResubscribingIsNot(ProtocolVersion version, ReasonCode refused)
    {
        await using var broker = TestBroker.Create(o => o.MaxSubscriptionsPerClient = 2);
        await using var client = new TestClient(broker, version);
        await client.ConnectAsync("c");
        Assert.Equal(ReasonCode.Success, (await client.SubscribeAsync("a")).ReasonCodes[0]);
        Assert.Equal(ReasonCode.Success, (await client.SubscribeAsync("b")).ReasonCodes[0]);
        Assert.Equal(refused, (await client.SubscribeAsync("c")).ReasonCodes[0]);
        Assert.Equal(ReasonCode.Success, (await client.SubscribeAsync("a")).ReasonCodes[0]);
        await client.UnsubscribeAsync("b");
        Assert.Equal(ReasonCode.Success, (await client.SubscribeAsync("c")).ReasonCodes[0]);
    }

    [Fact]
    public async Task TopicsTooDeepOrTooLong_AreRefused_V5()
    {
        await using var broker = TestBroker.Create(o =>
        {
            o.MaxTopicLevels = 3;
            o.MaxTopicLength = 20;
        });
        await using var client = new TestClient(broker, ProtocolVersion.V500);
        await client.ConnectAsync("c");
        Assert.Equal(ReasonCode.Success, (await client.SubscribeAsync("a/b/+")).ReasonCodes[0]);
        Assert.Equal(ReasonCode.TopicFilterInvalid, (await client.SubscribeAsync("a/b/c/#")).ReasonCodes[0]);
        Assert.Equal(ReasonCode.TopicFilterInvalid, (await client.SubscribeAsync(new string('x', 21))).ReasonCodes[0]);

        Assert.Equal(ReasonCode.TopicNameInvalid, await client.PublishAndSettleAsync("a/b/c/d", "deep", QualityOfService.AtLeastOnce));
        Assert.Equal(ReasonCode.TopicNameInvalid, await client.PublishAndSettleAsync("a/b/" + new string('x', 20), "long", QualityOfService.AtLeastOnce));
        await client.PublishAsync("a/b/c", "fine");
        Assert.Equal("fine", Text.Of((await client.ExpectPublishAsync()).Payload));
        await client.ExpectNothingAsync();
    }

    [Fact]
    public async Task PublishRate_Disconnect_ClosesWith0x96()
    {
        var time = new FakeTimeProvider();
        await using var broker = TestBroker.Create(o =>
        {
            o.MaxPublishRate = 3;
            o.PublishRateAction = PublishRateAction.Disconnect;
        }, time);
        await using var client = new TestClient(broker, ProtocolVersion.V500);
        await client.ConnectAsync("c");
        for (var i = 0; i < 4; i++)
            await client.PublishAsync("t", "m" + i);
        var disconnect = await client.ExpectAsync<DisconnectPacket>();
        Assert.Equal(ReasonCode.MessageRateTooHigh, disconnect.ReasonCode);
        await client.ExpectClosedAsync();
    }

    [Fact]
    public async Task PublishRate_Throttle_PausesReading_UntilTheRateAllowsMore()
    {
        var time = new FakeTimeProvider();
        await using var broker = TestBroker.Create(o => o.MaxPublishRate = 2, time);
        await using var subscriber = new TestClient(broker, ProtocolVersion.V311, "sub");
        await subscriber.ConnectAsync("sub");
        await subscriber.SubscribeAsync("t");
        await using var publisher = new TestClient(broker, ProtocolVersion.V311, "pub");
        await publisher.ConnectAsync("pub");
        for (var i = 0; i < 5; i++)
            await publisher.PublishAsync("t", "m" + i);

        // Two within the burst, the third puts the client half a second in debt: it is handled, then reading stops.
        for (var i = 0; i < 3; i++)
            Assert.Equal("m" + i, Text.Of((await subscriber.ExpectPublishAsync()).Payload));
        await subscriber.ExpectNothingAsync();

        // As (fake) time passes the rest come through. Time is advanced in steps until they do, because the
        // read loop may start its pause a moment after the third message was delivered — on a loaded machine,
        // after any fixed number of steps: the bound is a real-time deadline.
        var rest = new List<string>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (rest.Count < 2 && DateTime.UtcNow < deadline)
        {
            time.Advance(TimeSpan.FromSeconds(0.5));
            foreach (var publish in await subscriber.CollectPublishesAsync())
                rest.Add(Text.Of(publish.Payload));
        }

        Assert.Equal(["m3", "m4"], rest);
        Assert.False(publisher.ServerTask.IsCompleted); // throttled, not disconnected
    }

    // Broker:QueueOverflowAction Disconnect: a subscriber that does not acknowledge fills its in-flight window (1)
    // and its queue (2); the next message overflows it and the client is told 0x97 Quota exceeded (v5) or
    // simply loses the connection (v3).
    [Theory]
    [InlineData(ProtocolVersion.V500)]
    [InlineData(ProtocolVersion.V311)]
    public async Task QueueOverflow_Disconnect_ClosesTheSlowClient_WithQuotaExceeded(ProtocolVersion version)
    {
        await using var broker = TestBroker.Create(o =>
        {
            o.MaxInflightMessages = 1;
            o.MaxQueuedMessages = 2;
            o.QueueOverflowAction = QueueOverflowAction.Disconnect;
        });
        await using var subscriber = new TestClient(broker, version, "sub");
        await subscriber.ConnectAsync("sub");
        await subscriber.SubscribeAsync("t", QualityOfService.AtLeastOnce);
        await using var publisher = new TestClient(broker, ProtocolVersion.V500, "pub");
        await publisher.ConnectAsync("pub");

        for (var i = 0; i < 3; i++)
            Assert.Equal(ReasonCode.Success, await publisher.PublishAndSettleAsync("t", "m" + i, QualityOfService.AtLeastOnce));
        Assert.Equal("m0", Text.Of((await subscriber.ExpectPublishAsync()).Payload)); // in flight, never acknowledged
        await subscriber.ExpectNothingAsync(); // m1 and m2 queued: at the limit, not over it

        Assert.Equal(ReasonCode.Success, await publisher.PublishAndSettleAsync("t", "m3", QualityOfService.AtLeastOnce));
        if (version == ProtocolVersion.V500)
        {
            var disconnect = await subscriber.ExpectAsync<DisconnectPacket>();
            Assert.Equal(ReasonCode.QuotaExceeded, disconnect.ReasonCode);
            Assert.Contains("queue full", disconnect.Properties?.ReasonString, StringComparison.Ordinal);
        }

        await subscriber.ExpectClosedAsync();
        await publisher.ExpectNothingAsync(); // the publisher is not affected
        Assert.Equal(1, broker.Statistics.MessagesDropped);
    }

    [Fact]
    public async Task QueueOverflow_DropOldest_IsTheDefault_AndKeepsTheClientConnected()
    {
        await using var broker = TestBroker.Create(o =>
        {
            o.MaxInflightMessages = 1;
            o.MaxQueuedMessages = 2;
        });
        Assert.Equal(QueueOverflowAction.DropOldest, new BrokerOptions().QueueOverflowAction);
        await using var subscriber = new TestClient(broker, ProtocolVersion.V500, "sub");
        await subscriber.ConnectAsync("sub");
        await subscriber.SubscribeAsync("t", QualityOfService.AtLeastOnce);
        await using var publisher = new TestClient(broker, ProtocolVersion.V500, "pub");
        await publisher.ConnectAsync("pub");
        for (var i = 0; i < 4; i++)
            await publisher.PublishAndSettleAsync("t", "m" + i, QualityOfService.AtLeastOnce);

        var first = await subscriber.ExpectPublishAsync();
        Assert.Equal("m0", Text.Of(first.Payload));
        await subscriber.SendAsync(new PublishAckPacket(PacketType.PubAck, first.PacketId));
        Assert.Equal("m2", Text.Of((await subscriber.ExpectPublishAsync()).Payload)); // m1 was dropped to make room
        Assert.False(subscriber.ServerTask.IsCompleted);
    }

    // The QoS 0 side of the same limit: a subscriber that stops reading lets its outbound queue fill up.
    [Fact]
    public async Task QueueOverflow_Disconnect_AppliesToQoS0_WhenTheClientStopsReading()
    {
        await using var broker = TestBroker.Create(o =>
        {
            o.MaxQueuedMessages = 5;
            o.QueueOverflowAction = QueueOverflowAction.Disconnect;
        });
        await using var subscriber = new TestClient(broker, ProtocolVersion.V500, "sub");
        await subscriber.ConnectAsync("sub");
        await subscriber.SubscribeAsync("t");
        await using var publisher = new TestClient(broker, ProtocolVersion.V500, "pub");
        await publisher.ConnectAsync("pub");

        // Far more than the in-memory pipe holds before it pushes back (64 KiB) plus the queue of 5.
        var payload = new string('x', 4096);
        for (var i = 0; i < 100 && !subscriber.ServerTask.IsCompleted; i++)
            await publisher.PublishAsync("t", payload);
        await publisher.ExpectNothingAsync();

        // Reading again, the subscriber finds the messages that were written, then the DISCONNECT.
        while (true)
        {
            var packet = await subscriber.ReceiveAsync();
            Assert.NotNull(packet);
            if (packet is DisconnectPacket disconnect)
            {
                Assert.Equal(ReasonCode.QuotaExceeded, disconnect.ReasonCode);
                break;
            }

            Assert.IsType<PublishMessagePacket>(packet);
        }

        await subscriber.ExpectClosedAsync();
    }
}
