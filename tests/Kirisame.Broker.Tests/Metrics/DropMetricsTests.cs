using Kirisame.Broker.Clients;
using Kirisame.Broker.Delivery;
using Kirisame.Broker.Diagnostics;
using Kirisame.Broker.Security;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;
using Microsoft.Extensions.Time.Testing;

namespace Kirisame.Broker.Tests.Metrics;

/// kirisame.messages.dropped: every cause made to happen for real, and counted under its own reason only.
public sealed class DropMetricsTests
{
    private const string Dropped = "kirisame.messages.dropped";

    /// <paramref name="count"/> drops, all of them <paramref name="reason"/>, and $SYS's messages/dropped the same.
    private static void AssertDropped(MetricsRecorder metrics, MqttBroker broker, string reason, int count)
    {
        Assert.Equal(count, metrics.Value(Dropped, "reason=" + reason));
        Assert.Equal(count, metrics.Value(Dropped));
        Assert.Equal(count, Interlocked.Read(ref broker.Statistics.MessagesDropped));
    }

    [Fact]
    public async Task QueueFull_IsCountedForTheBrokerAndTheSession()
    {
        await using var broker = TestBroker.Create(o => o.MaxQueuedMessages = 2);
        using var metrics = MetricsRecorder.For(broker);
        await TestClient.LeaveOfflineSessionAsync(broker, "away", "q");

        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await pub.ConnectAsync("pub");
        for (var i = 0; i < 5; i++)
            await pub.PublishAndSettleAsync("q", "m" + i, QualityOfService.AtLeastOnce);

        AssertDropped(metrics, broker, "queue_full", 3);
        var session = broker.Admin.GetSession("away")!;
        Assert.Equal(3, session.Drops[DropReason.QueueFull]);
        Assert.Equal(2, session.PendingMessages);
    }

    [Fact]
    public async Task QueueFull_QoS0ToASubscriberThatDoesNotRead_IsCounted()
    {
        await using var broker = TestBroker.Create(o => o.MaxQueuedMessages = 10);
        using var metrics = MetricsRecorder.For(broker);
        // An in-process client that never reads: its QoS 0 queue holds MaxQueuedMessages, then the broker drops.
        await using var slow = await InProcessClient.ConnectAsync(broker, new InProcessClientOptions { ClientId = "slow" });
        await slow.SubscribeAsync("flood");
        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await pub.ConnectAsync("pub");
        for (var i = 0; i < 25; i++)
            await pub.PublishAsync("flood", "x");
        await pub.ExpectNothingAsync(); // the read loop has routed everything before the PINGRESP

        AssertDropped(metrics, broker, "queue_full", 15);
        Assert.Equal(15, broker.Admin.GetSession("slow")!.Drops[DropReason.QueueFull]);
    }

    [Fact]
    public async Task Expired_WhileQueued_IsCountedForTheBrokerAndTheSession()
    {
        var time = new FakeTimeProvider();
        await using var broker = TestBroker.Create(time: time);
        using var metrics = MetricsRecorder.For(broker);
        var sub = new TestClient(broker, ProtocolVersion.V500);
        await sub.ConnectAsync("sub", properties: new MqttProperties { SessionExpiryInterval = 3600 });
        await sub.SubscribeAsync("e", QualityOfService.AtLeastOnce);
        await sub.DisconnectAsync();
        await sub.DisposeAsync();

        await using var pub = new TestClient(broker, ProtocolVersion.V500);
        await pub.ConnectAsync("pub");
        await pub.PublishAsync("e", "gone", QualityOfService.AtLeastOnce, properties: new PublishProperties { MessageExpiryInterval = 5 });
        await pub.ExpectAsync<PublishAckPacket>();
        time.Advance(TimeSpan.FromSeconds(10));

        await using var back = new TestClient(broker, ProtocolVersion.V500);
        await back.ConnectAsync("sub", cleanStart: false, properties: new MqttProperties { SessionExpiryInterval = 3600 });
        await back.ExpectNothingAsync();

        AssertDropped(metrics, broker, "expired", 1);
        Assert.Equal(1, broker.Admin.GetSession("sub")!.Drops[DropReason.Expired]);
    }

    [Fact]
    public async Task TooLargeForTheClient_IsCounted()
    {
        await using var broker = TestBroker.Create();
        using var metrics = MetricsRecorder.For(broker);
        await using var sub = new TestClient(broker, ProtocolVersion.V500);
        await sub.ConnectAsync("sub", properties: new MqttProperties { MaximumPacketSize = 64 });
        await sub.SubscribeAsync("m");
        await using var pub = new TestClient(broker, ProtocolVersion.V500);
        await pub.ConnectAsync("pub");
        await pub.PublishAsync("m", new string('x', 200));
        await pub.PublishAsync("m", "small");
        Assert.Equal("small", Text.Of((await sub.ExpectPublishAsync()).Payload));

        AssertDropped(metrics, broker, "too_large", 1);
        Assert.Equal(1, broker.Admin.GetSession("sub")!.Drops[DropReason.TooLarge]);
    }

    private sealed class DenyTopic(string denied) : IAuthorizer
    {
        public bool CanPublish(string clientId, string? userName, string topic) => topic != denied;

        public bool CanSubscribe(string clientId, string? userName, string filter) => true;
    }

    [Fact]
    public async Task NotAuthorized_IsCounted()
    {
        await using var broker = TestBroker.Create(authorizer: new DenyTopic("secret"));
        using var metrics = MetricsRecorder.For(broker);
        await using var pub = new TestClient(broker, ProtocolVersion.V500);
        await pub.ConnectAsync("pub");
        Assert.Equal(ReasonCode.NotAuthorized, await pub.PublishAndSettleAsync("secret", "no", QualityOfService.AtLeastOnce));
        Assert.Equal(ReasonCode.NoMatchingSubscribers, await pub.PublishAndSettleAsync("open", "yes", QualityOfService.AtLeastOnce));

        AssertDropped(metrics, broker, "not_authorized", 1);
    }

    [Fact]
    public async Task TopicOverTheLimits_IsCounted()
    {
        await using var broker = TestBroker.Create(o => o.MaxTopicLevels = 3);
        using var metrics = MetricsRecorder.For(broker);
        await using var pub = new TestClient(broker, ProtocolVersion.V500);
        await pub.ConnectAsync("pub");
        Assert.Equal(ReasonCode.TopicNameInvalid, await pub.PublishAndSettleAsync("a/b/c/d", "deep", QualityOfService.AtLeastOnce));

        AssertDropped(metrics, broker, "topic_invalid", 1);
    }

    [Fact]
    public async Task PayloadNotUtf8_IsCounted()
    {
        await using var broker = TestBroker.Create();
        using var metrics = MetricsRecorder.For(broker);
        await using var client = await InProcessClient.ConnectAsync(broker, new InProcessClientOptions { ClientId = "c" });
        var reason = await client.PublishAsync("t", new byte[] { 0xC3, 0x28 }, properties: new PublishProperties { PayloadFormatIndicator = 1 });
        Assert.Equal(ReasonCode.PayloadFormatInvalid, reason);

        AssertDropped(metrics, broker, "payload_format_invalid", 1);
    }

    [Fact]
    public async Task QoS1WhileTheStoreCannotWrite_IsCounted_AndQoS0IsNot()
    {
        var store = new SwitchableStore { Healthy = false };
        await using var broker = new MqttBroker(new BrokerOptions { SysInterval = 0 }, store: store);
        using var metrics = MetricsRecorder.For(broker);
        await using var pub = new TestClient(broker, ProtocolVersion.V500);
        await pub.ConnectAsync("pub");
        Assert.Equal(ReasonCode.QuotaExceeded, await pub.PublishAndSettleAsync("t", "refused", QualityOfService.AtLeastOnce));
        await pub.PublishAndSettleAsync("t", "routed");

        AssertDropped(metrics, broker, "storage_unavailable", 1);
    }

    [Fact]
    public async Task NoSubscriber_IsNotADrop()
    {
        await using var broker = TestBroker.Create();
        using var metrics = MetricsRecorder.For(broker);
        await using var pub = new TestClient(broker, ProtocolVersion.V500);
        await pub.ConnectAsync("pub");
        Assert.Equal(ReasonCode.NoMatchingSubscribers, await pub.PublishAndSettleAsync("nobody", "x", QualityOfService.AtLeastOnce));

        Assert.True(metrics.Reports(Dropped));
        AssertDropped(metrics, broker, "queue_full", 0);
    }

    /// The in-memory store, with a health switch.
    private sealed class SwitchableStore : IBrokerStore
    {
        private readonly InMemoryStore _inner = InMemoryStore.Instance;

        public bool Healthy { get; set; } = true;

        public StoredState Load() => _inner.Load();

        public void PutSession(in SessionRecord session) => _inner.PutSession(session);

        public void DeleteSession(string clientId) => _inner.DeleteSession(clientId);

        public void PutSubscription(string clientId, in SubscriptionRecord subscription) => _inner.PutSubscription(clientId, subscription);

        public void DeleteSubscription(string clientId, string filter) => _inner.DeleteSubscription(clientId, filter);

        public void PutRetained(BrokerMessage message) => _inner.PutRetained(message);

        public void DeleteRetained(string topic) => _inner.DeleteRetained(topic);

        public void PutQueued(string clientId, in QueuedMessage queued, ushort packetId, InflightState state) => _inner.PutQueued(clientId, queued, packetId, state);

        public void DeleteQueued(string clientId, long sequence, BrokerMessage message) => _inner.DeleteQueued(clientId, sequence, message);

        public void PutInboundQoS2(string clientId, ushort packetId) => _inner.PutInboundQoS2(clientId, packetId);

        public void DeleteInboundQoS2(string clientId, ushort packetId) => _inner.DeleteInboundQoS2(clientId, packetId);

        public long Mark() => _inner.Mark();

        public bool IsDurable(long mark) => _inner.IsDurable(mark);

        public void WhenDurable(long mark, Action<object?> callback, object? state) => _inner.WhenDurable(mark, callback, state);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
