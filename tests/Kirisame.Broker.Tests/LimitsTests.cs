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
        // read loop may start its pause a moment after the third message was delivered.
        var rest = new List<string>();
        for (var step = 0; step < 20 && rest.Count < 2; step++)
        {
            time.Advance(TimeSpan.FromSeconds(0.5));
            foreach (var publish in await subscriber.CollectPublishesAsync())
                rest.Add(Text.Of(publish.Payload));
        }

        Assert.Equal(["m3", "m4"], rest);
        Assert.False(publisher.ServerTask.IsCompleted); // throttled, not disconnected
    }
}
