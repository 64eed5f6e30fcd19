using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Microsoft.Extensions.Time.Testing;

namespace Kirisame.Broker.Tests;

public sealed class WillTests
{
    private static WillMessage Will(string topic = "wills/dying", QualityOfService qos = QualityOfService.AtMostOnce, bool retain = false)
        => new() { Topic = topic, Payload = "bye"u8.ToArray(), QoS = qos, Retain = retain };

    private static async Task<TestClient> WatcherAsync(MqttBroker broker)
    {
        var watcher = new TestClient(broker, ProtocolVersion.V311);
        await watcher.ConnectAsync("watcher");
        await watcher.SubscribeAsync("wills/#", QualityOfService.ExactlyOnce);
        return watcher;
    }

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task Will_IsPublished_OnKeepAliveTimeout(ProtocolVersion version) // [MQTT-3.1.2-8]
    {
        var time = new FakeTimeProvider();
        await using var broker = TestBroker.Create(time: time);
        await using var watcher = await WatcherAsync(broker);
        await using var dying = new TestClient(broker, version);
        await dying.ConnectAsync("dying", keepAlive: 2, will: Will());

        time.Advance(TimeSpan.FromSeconds(4));
        broker.Housekeep();
        await dying.ExpectClosedAsync();
        var p = await watcher.ExpectPublishAsync();
        Assert.Equal(("wills/dying", "bye"), (p.TopicString, Text.Of(p.Payload)));
    }

    [Theory]
    [InlineData(ProtocolVersion.V310)]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task Will_IsPublished_OnNetworkError(ProtocolVersion version) // [MQTT-3.1.2-7], [MQTT-3.1.2-8], [MQTT-3.1.2-14]
    {
        await using var broker = TestBroker.Create();
        await using var watcher = await WatcherAsync(broker);
        await using var dying = new TestClient(broker, version);
        await dying.ConnectAsync("dying", will: Will());
        await dying.DropAsync();
        await dying.ExpectClosedAsync();
        Assert.Equal("bye", Text.Of((await watcher.ExpectPublishAsync()).Payload));
        Assert.Equal(0, broker.Retained.Count); // Will Retain 0: published as a non-retained message
    }

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task Will_IsPublished_OnProtocolError(ProtocolVersion version) // [MQTT-3.1.2-8]
    {
        await using var broker = TestBroker.Create();
        await using var watcher = await WatcherAsync(broker);
        await using var dying = new TestClient(broker, version);
        await dying.ConnectAsync("dying", will: Will());
        await dying.SendRawAsync([0x30, 0xFF, 0xFF, 0xFF, 0xFF]); // remaining length of five bytes
        await dying.ExpectClosedAsync();
        Assert.Equal("bye", Text.Of((await watcher.ExpectPublishAsync()).Payload));
    }

    [Theory]
    [InlineData(ProtocolVersion.V310)]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task Will_IsNotPublished_OnNormalDisconnect(ProtocolVersion version) // [MQTT-3.14.4-3], [MQTT-3.1.2-10]
    {
        await using var broker = TestBroker.Create();
        await using var watcher = await WatcherAsync(broker);
        await using var leaving = new TestClient(broker, version);
        await leaving.ConnectAsync("leaving", will: Will());
        await leaving.DisconnectAsync();
        await watcher.ExpectNothingAsync();
    }

    [Fact]
    public async Task Will_IsPublished_OnDisconnectWithWillMessage_V5() // v5 reason 0x04
    {
        await using var broker = TestBroker.Create();
        await using var watcher = await WatcherAsync(broker);
        await using var leaving = new TestClient(broker, ProtocolVersion.V500);
        await leaving.ConnectAsync("leaving", will: Will());
        await leaving.DisconnectAsync(new DisconnectPacket { ReasonCode = ReasonCode.DisconnectWithWillMessage });
        Assert.Equal("bye", Text.Of((await watcher.ExpectPublishAsync()).Payload));
    }

    [Fact]
    public async Task Will_KeepsItsQoS_AndARetainedWillIsSeenByLaterSubscribers() // [MQTT-3.1.2-15]; 3.1.1 [MQTT-3.1.2-17]
    {
        await using var broker = TestBroker.Create();
        await using var watcher = await WatcherAsync(broker); // subscribed at QoS 2
        await using var dying = new TestClient(broker, ProtocolVersion.V311);
        await dying.ConnectAsync("dying", will: Will(qos: QualityOfService.AtLeastOnce, retain: true));
        await dying.DropAsync();
        await dying.ExpectClosedAsync();

        var live = await watcher.ExpectPublishAsync();
        Assert.Equal((QualityOfService.AtLeastOnce, false), (live.QoS, live.Retain));
        Assert.Equal(1, broker.Retained.Count);

        await using var later = new TestClient(broker, ProtocolVersion.V311);
        await later.ConnectAsync("later");
        await later.SubscribeAsync("wills/+", QualityOfService.ExactlyOnce);
        var retained = await later.ExpectPublishAsync();
        Assert.Equal(("wills/dying", "bye", true, QualityOfService.AtLeastOnce),
            (retained.TopicString, Text.Of(retained.Payload), retained.Retain, retained.QoS));
    }
}
