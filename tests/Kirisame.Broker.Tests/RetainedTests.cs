using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Broker.Tests;

public sealed class RetainedTests
{
    [Fact]
    public async Task RetainedMessage_IsStored_AndReplacedByTheNextOne() // [MQTT-3.3.1-5], [MQTT-3.3.1-8] (RETAIN 0 replaces nothing)
    {
        await using var broker = TestBroker.Create();
        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await pub.ConnectAsync("pub");
        await pub.PublishAndSettleAsync("r/t", "old", QualityOfService.AtLeastOnce, retain: true);
        await pub.PublishAndSettleAsync("r/t", "new", QualityOfService.AtMostOnce, retain: true);
        await pub.PublishAndSettleAsync("r/u", "other", QualityOfService.AtMostOnce, retain: true);
        await pub.PublishAndSettleAsync("r/t", "not retained", QualityOfService.AtMostOnce, retain: false);
        Assert.Equal(2, broker.Retained.Count);

        await using var sub = new TestClient(broker, ProtocolVersion.V311);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("r/t", QualityOfService.AtLeastOnce);
        var p = await sub.ExpectPublishAsync();
        Assert.Equal(("new", true, QualityOfService.AtMostOnce), (Text.Of(p.Payload), p.Retain, p.QoS)); // its own QoS 0
        await sub.ExpectNothingAsync();
    }

    [Fact]
    public async Task RetainedMessage_IsDeletedByAnEmptyPayload() // [MQTT-3.3.1-6], [MQTT-3.3.1-7]; 3.1.1 [MQTT-3.3.1-10], 3.1.1 [MQTT-3.3.1-11]
    {
        await using var broker = TestBroker.Create();
        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await pub.ConnectAsync("pub");
        await pub.PublishAndSettleAsync("r/t", "kept", QualityOfService.AtLeastOnce, retain: true);
        Assert.Equal(1, broker.Retained.Count);
        await pub.PublishAndSettleAsync("r/t", "", QualityOfService.AtLeastOnce, retain: true);
        Assert.Equal(0, broker.Retained.Count);

        await using var sub = new TestClient(broker, ProtocolVersion.V311);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("r/#", QualityOfService.AtLeastOnce);
        await sub.ExpectNothingAsync();
    }

    [Fact]
    public async Task RetainedMessages_AreDeliveredOnSubscribe_WithRetainFlag_AtTheLowerQoS() // [MQTT-3.3.1-9], [MQTT-3.8.4-8]; 3.1.1 [MQTT-3.3.1-6], 3.1.1 [MQTT-3.3.1-8]
    {
        await using var broker = TestBroker.Create();
        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await pub.ConnectAsync("pub");
        await pub.PublishAndSettleAsync("r/a", "a", QualityOfService.ExactlyOnce, retain: true);
        await pub.PublishAndSettleAsync("r/b/c", "c", QualityOfService.AtLeastOnce, retain: true);
        await pub.PublishAndSettleAsync("x/y", "y", QualityOfService.AtLeastOnce, retain: true);

        await using var sub = new TestClient(broker, ProtocolVersion.V311);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("r/#", QualityOfService.AtLeastOnce);
        var received = await sub.CollectPublishesAsync();
        Assert.Equal(["r/a", "r/b/c"], received.Select(p => p.TopicString).Order());
        Assert.All(received, p => Assert.True(p.Retain));
        Assert.All(received, p => Assert.Equal(QualityOfService.AtLeastOnce, p.QoS));
    }

    [Theory]
    [InlineData(ProtocolVersion.V311)] // 3.1.1 [MQTT-3.3.1-9]
    [InlineData(ProtocolVersion.V500)] // [MQTT-3.3.1-12]: Retain As Published 0
    public async Task RetainedPublish_ToAnEstablishedSubscription_IsDeliveredWithRetain0(ProtocolVersion version)
    {
        await using var broker = TestBroker.Create();
        await using var sub = new TestClient(broker, version);
        await using var pub = new TestClient(broker, version);
        await sub.ConnectAsync("sub");
        await pub.ConnectAsync("pub");
        await sub.SubscribeAsync("r/t");
        await pub.PublishAndSettleAsync("r/t", "live", retain: true);
        var p = await sub.ExpectPublishAsync();
        Assert.Equal("live", Text.Of(p.Payload));
        Assert.False(p.Retain);
    }

    [Fact]
    public async Task RetainAsPublished_KeepsTheRetainFlag_OnLiveDelivery() // [MQTT-3.3.1-13] (v5)
    {
        await using var broker = TestBroker.Create();
        await using var sub = new TestClient(broker, ProtocolVersion.V500);
        await using var pub = new TestClient(broker, ProtocolVersion.V500);
        await sub.ConnectAsync("sub");
        await pub.ConnectAsync("pub");
        await sub.SubscribeAsync("r/#", retainAsPublished: true);
        await pub.PublishAndSettleAsync("r/t", "retained", retain: true);
        await pub.PublishAndSettleAsync("r/t", "plain", retain: false);
        var retained = await sub.ExpectPublishAsync();
        var plain = await sub.ExpectPublishAsync();
        Assert.Equal(("retained", true), (Text.Of(retained.Payload), retained.Retain));
        Assert.Equal(("plain", false), (Text.Of(plain.Payload), plain.Retain));
    }

    [Fact]
    public async Task RetainHandling0_SendsRetainedOnEverySubscribe() // [MQTT-3.3.1-9] (v5)
    {
        await using var broker = await BrokerWithRetainedAsync();
        await using var sub = new TestClient(broker, ProtocolVersion.V500);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("r/t", retainHandling: RetainHandling.SendOnSubscribe);
        Assert.True((await sub.ExpectPublishAsync()).Retain);
        await sub.SubscribeAsync("r/t", retainHandling: RetainHandling.SendOnSubscribe);
        Assert.True((await sub.ExpectPublishAsync()).Retain);
    }

    [Fact]
    public async Task RetainHandling1_SendsRetainedOnlyForANewSubscription() // [MQTT-3.3.1-10] (v5)
    {
        await using var broker = await BrokerWithRetainedAsync();
        await using var sub = new TestClient(broker, ProtocolVersion.V500);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("r/t", retainHandling: RetainHandling.SendOnNewSubscribe);
        Assert.Equal("kept", Text.Of((await sub.ExpectPublishAsync()).Payload));
        await sub.SubscribeAsync("r/t", retainHandling: RetainHandling.SendOnNewSubscribe);
        await sub.ExpectNothingAsync();
    }

    [Fact]
    public async Task RetainHandling2_NeverSendsRetainedOnSubscribe() // [MQTT-3.3.1-11] (v5)
    {
        await using var broker = await BrokerWithRetainedAsync();
        await using var sub = new TestClient(broker, ProtocolVersion.V500);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("r/t", retainHandling: RetainHandling.DoNotSend);
        await sub.ExpectNothingAsync();
    }

    private static async Task<MqttBroker> BrokerWithRetainedAsync()
    {
        var broker = TestBroker.Create();
        await using var pub = new TestClient(broker, ProtocolVersion.V500);
        await pub.ConnectAsync("pub");
        await pub.PublishAndSettleAsync("r/t", "kept", QualityOfService.AtLeastOnce, retain: true);
        await pub.DisconnectAsync();
        return broker;
    }
}
