using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;

namespace Kirisame.Broker.Tests;

public sealed class SubscriptionTests
{
    [Theory]
    [InlineData("a/b", "a/b", true)]
    [InlineData("a/b", "a/B", false)] // [MQTT-4.7.3-4] no normalisation: case matters
    [InlineData("a/+", "a/b", true)]
    [InlineData("a/+", "a/b/c", false)]
    [InlineData("a/+/c", "a/b/c", true)]
    [InlineData("+/+", "/x", true)] // an empty level is a level
    [InlineData("+", "a/b", false)]
    [InlineData("a/#", "a", true)] // '#' includes the parent level (4.7.1.2)
    [InlineData("a/#", "a/b/c", true)]
    [InlineData("a/#", "ab/c", false)]
    [InlineData("#", "a/b", true)]
    [InlineData("#", "$foo/x", false)] // [MQTT-4.7.2-1] no leading wildcard matches a '$' topic
    [InlineData("+/x", "$foo/x", false)] // [MQTT-4.7.2-1]
    [InlineData("$foo/#", "$foo/x", true)]
    [InlineData("$foo/+", "$foo/x", true)]
    public async Task Wildcards_MatchTopicsAsSpecified(string filter, string topic, bool matches)
    {
        await using var broker = TestBroker.Create();
        await using var sub = new TestClient(broker, ProtocolVersion.V311);
        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await sub.ConnectAsync("sub");
        await pub.ConnectAsync("pub");
        await sub.SubscribeAsync(filter);
        await pub.PublishAndSettleAsync(topic, "x");
        if (matches)
            Assert.Equal(topic, (await sub.ExpectPublishAsync()).TopicString);
        await sub.ExpectNothingAsync();
    }

    // [MQTT-3.2.2-9] Maximum QoS in CONNACK; [MQTT-3.2.2-10] a SUBSCRIBE at QoS 2 is still accepted; [MQTT-3.8.4-7] the
    // reason code is the QoS granted; [MQTT-3.8.4-8] delivery at the lower QoS.
    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task GrantedQoS_IsCappedByMaximumQoS(ProtocolVersion version) // 3.1.1 [MQTT-3.8.4-6]
    {
        await using var broker = TestBroker.Create(o => o.MaximumQoS = 1);
        await using var sub = new TestClient(broker, version);
        var connAck = await sub.ConnectAsync("sub");
        if (version == ProtocolVersion.V500)
            Assert.Equal((byte)1, connAck.Properties?.MaximumQoS);
        var ack = await sub.SubscribeAsync("t", QualityOfService.ExactlyOnce);
        Assert.Equal([ReasonCode.GrantedQoS1], ack.ReasonCodes);

        await using var pub = new TestClient(broker, version);
        await pub.ConnectAsync("pub");
        await pub.PublishAndSettleAsync("t", "capped", QualityOfService.AtLeastOnce);
        Assert.Equal(QualityOfService.AtLeastOnce, (await sub.ExpectPublishAsync()).QoS);
    }

    [Fact]
    public async Task Unsubscribe_StopsDelivery_AndV3UnsubAckCarriesNoReasonCodes() // [MQTT-3.10.4-1], [MQTT-3.10.4-2], [MQTT-3.10.4-4]
    {
        await using var broker = TestBroker.Create();
        await using var sub = new TestClient(broker, ProtocolVersion.V311);
        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await sub.ConnectAsync("sub");
        await pub.ConnectAsync("pub");
        await sub.SubscribeAsync("t/#", QualityOfService.AtLeastOnce);
        var ack = await sub.UnsubscribeAsync("t/#");
        Assert.Empty(ack.ReasonCodes);
        Assert.Equal(0, broker.Subscriptions.Count);

        await pub.PublishAndSettleAsync("t/x", "gone", QualityOfService.AtLeastOnce);
        await sub.ExpectNothingAsync();
    }

    // [MQTT-3.10.4-5] same identifier, and an UNSUBACK even for a filter with no subscription; [MQTT-3.10.4-6] one
    // UNSUBACK for several filters; [MQTT-3.11.3-1] codes in filter order; [MQTT-3.11.3-2] UNSUBACK codes only.
    [Fact]
    public async Task Unsubscribe_V5_Reports0x11ForAFilterWithNoSubscription()
    {
        await using var broker = TestBroker.Create();
        await using var sub = new TestClient(broker, ProtocolVersion.V500);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("a");
        var ack = await sub.UnsubscribeAsync("a", "never/subscribed");
        Assert.Equal([ReasonCode.Success, ReasonCode.NoSubscriptionExisted], ack.ReasonCodes);
        await sub.ExpectNothingAsync(); // one UNSUBACK only
    }

    [Fact]
    public async Task Resubscribe_ReplacesTheSubscription_WithTheNewQoS_AndResendsRetained() // [MQTT-3.8.4-3], [MQTT-3.8.4-4]
    {
        await using var broker = TestBroker.Create();
        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await pub.ConnectAsync("pub");
        await pub.PublishAndSettleAsync("r/x", "kept", QualityOfService.AtLeastOnce, retain: true);

        await using var sub = new TestClient(broker, ProtocolVersion.V311);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("r/x", QualityOfService.AtLeastOnce);
        var first = await sub.ExpectPublishAsync();
        Assert.Equal((QualityOfService.AtLeastOnce, true), (first.QoS, first.Retain));
        await sub.SendAsync(new PublishAckPacket(PacketType.PubAck, first.PacketId));

        var ack = await sub.SubscribeAsync("r/x", QualityOfService.AtMostOnce);
        Assert.Equal([ReasonCode.GrantedQoS0], ack.ReasonCodes);
        var again = await sub.ExpectPublishAsync();
        Assert.Equal(("kept", QualityOfService.AtMostOnce, true), (Text.Of(again.Payload), again.QoS, again.Retain));
        Assert.Equal(1, broker.Subscriptions.Count);

        await pub.PublishAndSettleAsync("r/x", "live", QualityOfService.AtLeastOnce);
        var live = await sub.ExpectPublishAsync();
        Assert.Equal(("live", QualityOfService.AtMostOnce), (Text.Of(live.Payload), live.QoS));
        await sub.ExpectNothingAsync(); // once: the old subscription is gone
    }

    [Fact]
    public async Task OverlappingSubscriptions_DeliverOnce_AtTheHighestGrantedQoS_V3() // [MQTT-3.3.4-2]; 3.1.1 [MQTT-3.3.5-1]
    {
        await using var broker = TestBroker.Create();
        await using var sub = new TestClient(broker, ProtocolVersion.V311);
        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await sub.ConnectAsync("sub");
        await pub.ConnectAsync("pub");
        await sub.SubscribeAsync("a/#", QualityOfService.AtMostOnce);
        await sub.SubscribeAsync("a/+", QualityOfService.AtLeastOnce);
        await sub.SubscribeAsync("+/b", QualityOfService.AtMostOnce);

        await pub.PublishAndSettleAsync("a/b", "once", QualityOfService.ExactlyOnce);
        var p = await sub.ExpectPublishAsync();
        Assert.Equal(("once", QualityOfService.AtLeastOnce), (Text.Of(p.Payload), p.QoS));
        await sub.SendAsync(new PublishAckPacket(PacketType.PubAck, p.PacketId));
        await sub.ExpectNothingAsync();
    }

    [Fact]
    public async Task OverlappingSubscriptions_V5_OnePublishCarriesEverySubscriptionIdentifier() // [MQTT-3.3.4-3], [MQTT-3.3.4-4]
    {
        await using var broker = TestBroker.Create();
        await using var sub = new TestClient(broker, ProtocolVersion.V500);
        await using var pub = new TestClient(broker, ProtocolVersion.V500);
        await sub.ConnectAsync("sub");
        await pub.ConnectAsync("pub");
        await sub.SubscribeAsync("a/#", properties: new MqttProperties { SubscriptionIdentifiers = [7] });
        await sub.SubscribeAsync("a/+", properties: new MqttProperties { SubscriptionIdentifiers = [42] });
        await sub.SubscribeAsync("a/b"); // no identifier

        await pub.PublishAndSettleAsync("a/b", "tagged");
        var p = await sub.ExpectPublishAsync();
        var ids = p.Properties.ToMqttProperties().SubscriptionIdentifiers;
        Assert.NotNull(ids);
        Assert.Equal([7u, 42u], ids.Order());
        await sub.ExpectNothingAsync();

        await pub.PublishAndSettleAsync("a/c/d", "one tag");
        Assert.Equal([7u], (await sub.ExpectPublishAsync()).Properties.ToMqttProperties().SubscriptionIdentifiers!);
    }

    [Fact]
    public async Task SubscriptionsOfDifferentClients_EachGetTheirOwnCopy()
    {
        await using var broker = TestBroker.Create();
        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await pub.ConnectAsync("pub");
        var subs = new List<TestClient>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var sub = new TestClient(broker, ProtocolVersion.V311);
                subs.Add(sub);
                await sub.ConnectAsync("sub" + i);
                await sub.SubscribeAsync(i == 0 ? "#" : i == 1 ? "fan/+" : "fan/out", QualityOfService.AtLeastOnce);
            }

            await pub.PublishAndSettleAsync("fan/out", "copy", QualityOfService.AtLeastOnce);
            foreach (var sub in subs)
            {
                Assert.Equal("copy", Text.Of((await sub.ExpectPublishAsync()).Payload));
                await sub.ExpectNothingAsync();
            }
        }
        finally
        {
            foreach (var sub in subs)
                await sub.DisposeAsync();
        }
    }
}
