using Kirisame.Broker.Delivery;
using Kirisame.Broker.Routing;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Broker.Tests;

/// The broker's side of the storage seam: what it writes, when it acknowledges, and what it restores.
public sealed class StorageSeamTests
{
    /// Records writes; durability advances only when the test says so.
    private sealed class ControllableStore : IBrokerStore
    {
        private readonly Lock _lock = new();
        private readonly List<(long Mark, Action<object?> Callback, object? State)> _waiting = [];
        private long _mark;
        private long _durable;

        public List<string> Writes { get; } = [];

        public StoredState State { get; set; } = StoredState.Empty;

        public StoredState Load() => State;

        private void Write(string what)
        {
            lock (_lock)
            {
                Writes.Add(what);
                _mark++;
            }
        }

        public void PutSession(in SessionRecord session) => Write($"session {session.ClientId} {session.ExpiryInterval}");

        public void DeleteSession(string clientId) => Write($"delete-session {clientId}");

        public void PutSubscription(string clientId, in SubscriptionRecord subscription) => Write($"sub {clientId} {subscription.Filter}");

        public void DeleteSubscription(string clientId, string filter) => Write($"unsub {clientId} {filter}");

        public void PutRetained(BrokerMessage message) => Write($"retain {message.Topic}");

        public void DeleteRetained(string topic) => Write($"unretain {topic}");

        public void PutQueued(string clientId, in QueuedMessage queued, ushort packetId, InflightState state)
            => Write($"queue {clientId} #{queued.Sequence} id={packetId} {state}");

        public void DeleteQueued(string clientId, long sequence, BrokerMessage message) => Write($"dequeue {clientId} #{sequence}");

        public void PutInboundQoS2(string clientId, ushort packetId) => Write($"qos2 {clientId} {packetId}");

        public void DeleteInboundQoS2(string clientId, ushort packetId) => Write($"qos2-done {clientId} {packetId}");

        public long Mark()
        {
            lock (_lock)
                return _mark;
        }

        public bool IsDurable(long mark)
        {
            lock (_lock)
                return mark <= _durable;
        }

        public void WhenDurable(long mark, Action<object?> callback, object? state)
        {
            lock (_lock)
            {
                if (mark > _durable)
                {
                    _waiting.Add((mark, callback, state));
                    return;
                }
            }

            callback(state);
        }

        public void MakeDurable()
        {
            List<(long Mark, Action<object?> Callback, object? State)> ready;
            lock (_lock)
            {
                _durable = _mark;
                ready = [.. _waiting];
                _waiting.Clear();
            }

            foreach (var (_, callback, state) in ready)
                callback(state);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    [Fact]
    public async Task QoS1ToPersistentSubscriber_IsAcknowledgedOnlyOnceDurable()
    {
        var store = new ControllableStore();
        await using var broker = new MqttBroker(new BrokerOptions { SysInterval = 0 }, store: store);
        await TestClient.LeaveOfflineSessionAsync(broker, "keeper", "d/#");
        store.MakeDurable();

        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await pub.ConnectAsync("pub");
        await pub.PublishAsync("d/1", "keep me", QualityOfService.AtLeastOnce);
        await pub.ExpectNothingAsync(); // no PUBACK yet: the queue entry is not durable
        Assert.Contains(store.Writes, w => w.StartsWith("queue keeper #1 id=0", StringComparison.Ordinal));

        store.MakeDurable();
        Assert.Equal(PacketType.PubAck, (await pub.ExpectAsync<PublishAckPacket>()).Type);
    }

    [Fact]
    public async Task AcksStayInOrder_WhenAnEarlierOneWaitsForDurability()
    {
        var store = new ControllableStore();
        await using var broker = new MqttBroker(new BrokerOptions { SysInterval = 0 }, store: store);
        await TestClient.LeaveOfflineSessionAsync(broker, "keeper", "d/persistent");
        store.MakeDurable();

        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await pub.ConnectAsync("pub");
        await pub.PublishAsync("d/persistent", "1", QualityOfService.AtLeastOnce, packetId: 10);
        await pub.PublishAsync("d/nobody", "2", QualityOfService.AtLeastOnce, packetId: 11); // nothing to store
        await pub.ExpectNothingAsync();
        store.MakeDurable();
        Assert.Equal(10, (await pub.ExpectAsync<PublishAckPacket>()).PacketId);
        Assert.Equal(11, (await pub.ExpectAsync<PublishAckPacket>()).PacketId); // [MQTT-4.6.0-2]
    }

    [Fact]
    public async Task SysValues_AreRetainedForSubscribers_ButNeverWritten()
    {
        var store = new ControllableStore();
        await using var broker = new MqttBroker(new BrokerOptions { SysInterval = 1 }, store: store);
        broker.Start();
        await using var sub = new TestClient(broker, ProtocolVersion.V500);
        await sub.ConnectAsync("watcher");
        await sub.SubscribeAsync("$SYS/broker/version");
        Assert.True((await sub.ExpectPublishAsync()).Retain); // kept in memory for new subscribers
        await using var pub = new TestClient(broker, ProtocolVersion.V500);
        await pub.ConnectAsync("pub");
        await pub.PublishAndSettleAsync("user/kept", "m", QualityOfService.AtMostOnce, retain: true);

        Assert.Equal(["retain user/kept"], store.Writes); // a user's retained message is; $SYS ones are not
    }

    [Fact]
    public async Task NonPersistentSessions_AreNeverWritten()
    {
        var store = new ControllableStore();
        await using var broker = new MqttBroker(new BrokerOptions { SysInterval = 0 }, store: store);
        await using var sub = new TestClient(broker, ProtocolVersion.V500);
        await sub.ConnectAsync("fleeting");
        await sub.SubscribeAsync("x", QualityOfService.AtLeastOnce);
        await using var pub = new TestClient(broker, ProtocolVersion.V500);
        await pub.ConnectAsync("pub");
        await pub.PublishAsync("x", "m", QualityOfService.AtLeastOnce);
        await pub.ExpectAsync<PublishAckPacket>();
        Assert.Empty(store.Writes);
    }

    [Fact]
    public async Task Restore_RebuildsSessionSubscriptionsQueueAndRetained()
    {
        var time = TimeProvider.System;
        var state = new StoredState();
        var stored = new StoredSession("back") { ExpiryInterval = 3600, DisconnectedAtUnixMs = time.GetUtcNow().ToUnixTimeMilliseconds() - 1000 };
        stored.Subscriptions.Add(("r/#", new TopicSubscription("r/#", QualityOfService.AtLeastOnce), 0));
        var queuedMessage = new BrokerMessage("r/q", "r/q"u8.ToArray(), "queued"u8.ToArray(), QualityOfService.AtLeastOnce, false, default, "pub", time.GetTimestamp());
        var inflightMessage = new BrokerMessage("r/i", "r/i"u8.ToArray(), "inflight"u8.ToArray(), QualityOfService.AtLeastOnce, false, default, "pub", time.GetTimestamp());
        stored.Queue.Add((new QueuedMessage(inflightMessage, QualityOfService.AtLeastOnce, false, [], null, 1), 7, InflightState.AwaitingAck));
        stored.Queue.Add((new QueuedMessage(queuedMessage, QualityOfService.AtLeastOnce, false, [], null, 2), 0, InflightState.AwaitingAck));
        state.Sessions.Add(stored);
        state.Retained.Add(new BrokerMessage("r/kept", "r/kept"u8.ToArray(), "retained"u8.ToArray(), QualityOfService.AtMostOnce, true, default, "pub", time.GetTimestamp()));

        await using var broker = new MqttBroker(new BrokerOptions { SysInterval = 0 });
        broker.Restore(state);
        await using var client = new TestClient(broker, ProtocolVersion.V311);
        Assert.True((await client.ConnectAsync("back", cleanStart: false)).SessionPresent);
        var resent = await client.ExpectPublishAsync();
        Assert.Equal("inflight", Text.Of(resent.Payload));
        Assert.True(resent.Dup);
        Assert.Equal(7, resent.PacketId);
        var next = await client.ExpectPublishAsync();
        Assert.Equal("queued", Text.Of(next.Payload));
        await client.SendAsync(new PublishAckPacket(PacketType.PubAck, resent.PacketId));
        await client.SendAsync(new PublishAckPacket(PacketType.PubAck, next.PacketId));

        // The subscription is back in the topic tree, and the retained message is there for new subscribers.
        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await pub.ConnectAsync("pub2");
        await pub.PublishAsync("r/live", "live");
        Assert.Equal("live", Text.Of((await client.ExpectPublishAsync()).Payload));
        await using var other = new TestClient(broker, ProtocolVersion.V311);
        await other.ConnectAsync("other");
        await other.SubscribeAsync("r/kept");
        Assert.Equal("retained", Text.Of((await other.ExpectPublishAsync()).Payload));
    }

    [Fact]
    public void Restore_SessionThatWasConnectedAtTheCrash_ExpiresCountingFromRestart()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var state = new StoredState();
        state.Sessions.Add(new StoredSession("was-online") { ExpiryInterval = 10, DisconnectedAtUnixMs = 0 });
        var broker = new MqttBroker(new BrokerOptions { SysInterval = 0 }, timeProvider: time);
        broker.Restore(state);
        time.Advance(TimeSpan.FromSeconds(5));
        broker.Housekeep();
        Assert.Equal(1, broker.SessionCount);
        time.Advance(TimeSpan.FromSeconds(6));
        broker.Housekeep();
        Assert.Equal(0, broker.SessionCount);
    }
}
