using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Broker.Tests.Metrics;

/// The rest of the `Kirisame` meter: connections, messages and bytes by QoS, what sessions hold.
public sealed class BrokerMetricsTests
{
    [Fact]
    public async Task Connections_CurrentOpenedAndRefused_AreCounted()
    {
        await using var broker = TestBroker.Create();
        using var metrics = MetricsRecorder.For(broker);
        await using var a = new TestClient(broker, ProtocolVersion.V311);
        await using var b = new TestClient(broker, ProtocolVersion.V500);
        await a.ConnectAsync("a");
        await b.ConnectAsync("b");
        // 3.1.1: an empty client id needs a clean session [MQTT-3.1.3-8]; refused with 0x02.
        await using var refused = new TestClient(broker, ProtocolVersion.V311);
        Assert.Equal(ReasonCode.ClientIdentifierNotValid, (await refused.ConnectAsync("", cleanStart: false)).ReasonCode);
        await refused.ExpectClosedAsync();

        Assert.Equal(2, metrics.Value("kirisame.connections"));
        Assert.Equal(2, metrics.Value("kirisame.connections.opened"));
        Assert.Equal(1, metrics.Value("kirisame.connections.refused", "reason=client_identifier_not_valid"));
        Assert.Equal(1, metrics.Value("kirisame.connections.refused"));
        Assert.Equal(0, metrics.Value("kirisame.connections.faulted"));

        await a.DisconnectAsync();
        Assert.Equal(1, metrics.Value("kirisame.connections"));
        Assert.Equal(2, metrics.Value("kirisame.connections.opened"));
    }

    [Fact]
    public async Task Messages_ReceivedAndSent_AreCountedByQoS_WithTheirPayloadBytes()
    {
        await using var broker = TestBroker.Create();
        using var metrics = MetricsRecorder.For(broker);
        await using var sub = new TestClient(broker, ProtocolVersion.V500);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("m/#", QualityOfService.ExactlyOnce);
        await using var pub = new TestClient(broker, ProtocolVersion.V500);
        await pub.ConnectAsync("pub");
        await pub.PublishAndSettleAsync("m/0", "zero");
        await pub.PublishAndSettleAsync("m/1", "one", QualityOfService.AtLeastOnce);
        await pub.PublishAndSettleAsync("m/1", "one again", QualityOfService.AtLeastOnce);
        await pub.PublishAndSettleAsync("m/2", "two..", QualityOfService.ExactlyOnce);
        var received = await sub.CollectPublishesAsync();
        Assert.Equal(4, received.Count);

        foreach (var (qos, count, bytes) in new[] { (0, 1, 4), (1, 2, 12), (2, 1, 5) })
        {
            Assert.Equal(count, metrics.Value("kirisame.messages.received", $"qos={qos}"));
            Assert.Equal(bytes, metrics.Value("kirisame.messages.received.bytes", $"qos={qos}"));
            Assert.Equal(count, metrics.Value("kirisame.messages.sent", $"qos={qos}"));
            Assert.Equal(bytes, metrics.Value("kirisame.messages.sent.bytes", $"qos={qos}"));
        }

        Assert.Equal(Interlocked.Read(ref broker.Statistics.MessagesReceived), metrics.Value("kirisame.messages.received"));
        Assert.Equal(Interlocked.Read(ref broker.Statistics.MessagesSent), metrics.Value("kirisame.messages.sent"));
        Assert.Equal(Interlocked.Read(ref broker.Statistics.BytesReceived), metrics.Value("kirisame.network.io", "network.io.direction=receive"));
        Assert.True(metrics.Value("kirisame.network.io", "network.io.direction=transmit") > 0);
    }

    [Fact]
    public async Task SessionQueues_PendingAndInflight_AreObserved()
    {
        await using var broker = TestBroker.Create(o => o.MaxInflightMessages = 1);
        using var metrics = MetricsRecorder.For(broker);
        await TestClient.LeaveOfflineSessionAsync(broker, "away", "q");
        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await pub.ConnectAsync("pub");
        for (var i = 0; i < 3; i++)
            await pub.PublishAndSettleAsync("q", "0123456789", QualityOfService.AtLeastOnce);

        Assert.Equal(3, metrics.Value("kirisame.sessions.messages", "state=pending"));
        Assert.Equal(0, metrics.Value("kirisame.sessions.messages", "state=inflight"));
        Assert.Equal(3 * (1 + 10), metrics.Value("kirisame.sessions.pending.bytes")); // topic and payload
        Assert.Equal(2, metrics.Value("kirisame.sessions"));
        Assert.Equal(1, metrics.Value("kirisame.subscriptions"));

        // Back, with a window of one: one in flight (not acknowledged), two waiting.
        await using var back = new TestClient(broker, ProtocolVersion.V311);
        await back.ConnectAsync("away", cleanStart: false);
        await back.ExpectPublishAsync();
        Assert.Equal(2, metrics.Value("kirisame.sessions.messages", "state=pending"));
        Assert.Equal(1, metrics.Value("kirisame.sessions.messages", "state=inflight"));
    }

    [Fact]
    public async Task RetainedMessages_AreObserved()
    {
        await using var broker = TestBroker.Create();
        using var metrics = MetricsRecorder.For(broker);
        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await pub.ConnectAsync("pub");
        await pub.PublishAndSettleAsync("r/1", "a", retain: true);
        await pub.PublishAndSettleAsync("r/2", "b", retain: true);
        Assert.Equal(2, metrics.Value("kirisame.retained.messages"));
    }
}
