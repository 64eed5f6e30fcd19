using Kirisame.Broker.Diagnostics;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;

namespace Kirisame.Broker.Tests;

/// A persistent session's queue on a store that reads queues back (docs/adr/0010): only a window of it in memory,
/// none while its client is away, the rest read back in order as the window drains. The store here keeps queues in
/// a dictionary (<see cref="QueueKeepingStore"/>); Kirisame.Storage.Tests runs the same with RocksDB.
public sealed class OfflineQueueTests
{
    private const string Subscriber = "sub";

    private static MqttBroker Broker(IBrokerStore store, Action<BrokerOptions>? configure = null)
    {
        var options = new BrokerOptions { SysInterval = 0, QueueWindowMessages = 4 };
        configure?.Invoke(options);
        Assert.Empty(options.Validate());
        return new MqttBroker(options, store: store);
    }

    private static async Task PublishAsync(MqttBroker broker, int from, int count)
    {
        await using var publisher = new TestClient(broker, ProtocolVersion.V311);
        await publisher.ConnectAsync("pub-" + Guid.NewGuid().ToString("N")[..6]);
        for (var i = from; i < from + count; i++)
            Assert.Equal(ReasonCode.Success, await publisher.PublishAndSettleAsync("t/1", $"m{i}", QualityOfService.AtLeastOnce));
    }

    private static List<string> Expected(int from, int count) => [.. Enumerable.Range(from, count).Select(i => $"m{i}")];

    /// Receives <paramref name="count"/> QoS 1 messages, acknowledging each, and returns their payloads in order.
    private static async Task<List<string>> ReceiveAsync(TestClient client, int count)
    {
        var payloads = new List<string>();
        while (payloads.Count < count)
        {
            var publish = await client.ExpectPublishAsync();
            payloads.Add(Text.Of(publish.Payload));
            await client.SendAsync(new PublishAckPacket(PacketType.PubAck, publish.PacketId));
        }

        return payloads;
    }

    /// Waits for a condition with a deadline (reads of the store land on another thread).
    private static async Task<bool> EventuallyAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow >= deadline)
                return false;
            await Task.Delay(10);
        }

        return true;
    }

    private static (int Window, int Stored, int Inflight) Shape(MqttBroker broker)
    {
        var session = broker.FindSession(Subscriber)!;
        lock (session.Sync)
            return (session.PendingOrNull?.WindowCount ?? 0, session.PendingOrNull?.StoredCount ?? 0, session.InflightCount);
    }

    [Theory]
    [InlineData(4, 4L * 1024 * 1024)] // the window bounded by messages
    [InlineData(1000, 16)] // by bytes: two messages of 6 bytes
    // Order per publisher across the window and the store [MQTT-4.6.0-6].
    public async Task OfflineSession_HoldsNoneOfItsQueueInMemory_AndGetsAllOfItInOrderWhenBack(int windowMessages, long windowBytes)
    {
        var store = new QueueKeepingStore();
        await using var broker = Broker(store, o => (o.QueueWindowMessages, o.QueueWindowBytes) = (windowMessages, windowBytes));
        await TestClient.LeaveOfflineSessionAsync(broker, Subscriber, "t/#");
        await PublishAsync(broker, 0, 50);

        Assert.Equal((0, 50, 0), Shape(broker));
        Assert.Equal(50, store.Stored(Subscriber));
        Assert.Equal(0, store.Reads);

        await using var back = new TestClient(broker, ProtocolVersion.V311);
        Assert.True((await back.ConnectAsync(Subscriber, cleanStart: false)).SessionPresent);
        Assert.Equal(Expected(0, 50), await ReceiveAsync(back, 50));
        await back.ExpectNothingAsync();
        Assert.True(await EventuallyAsync(() => store.Stored(Subscriber) == 0, TimeSpan.FromSeconds(5)));
        Assert.Equal((0, 0, 0), Shape(broker));
        Assert.True(store.Reads >= 50 / 4, $"the window was refilled {store.Reads} times");
    }

    [Fact]
    public async Task ConnectedSession_BeyondItsWindow_KeepsTheRestInTheStore_AndReadsItBackInOrder()
    {
        var store = new QueueKeepingStore();
        await using var broker = Broker(store, o => o.MaxInflightMessages = 2);
        await using var subscriber = new TestClient(broker, ProtocolVersion.V311);
        await subscriber.ConnectAsync(Subscriber, cleanStart: false);
        await subscriber.SubscribeAsync("t/#", QualityOfService.AtLeastOnce);

        await PublishAsync(broker, 0, 30); // not acknowledged yet: 2 in flight, 4 in the window, 24 only in the store
        Assert.Equal((4, 24, 2), Shape(broker));

        Assert.Equal(Expected(0, 30), await ReceiveAsync(subscriber, 30));
        await subscriber.ExpectNothingAsync();
        Assert.Equal((0, 0, 0), Shape(broker));
    }

    [Fact]
    public async Task MessagesArrivingWhileTheStoreIsRead_ComeAfterWhatTheReadBrings()
    {
        var store = new QueueKeepingStore();
        await using var broker = Broker(store, o => o.MaxInflightMessages = 2);
        await TestClient.LeaveOfflineSessionAsync(broker, Subscriber, "t/#");
        await PublishAsync(broker, 0, 20);

        store.HoldReads();
        await using var back = new TestClient(broker, ProtocolVersion.V311);
        await back.ConnectAsync(Subscriber, cleanStart: false);
        await store.ReadWaiting.Task.WaitAsync(TimeSpan.FromSeconds(5));
        await PublishAsync(broker, 20, 10); // behind the 20 the read is bringing
        Assert.Equal((0, 30, 0), Shape(broker));
        store.ReleaseReads();

        Assert.Equal(Expected(0, 30), await ReceiveAsync(back, 30));
        await back.ExpectNothingAsync();
    }

    [Fact]
    public async Task AClientThatGoesAway_LeavesNoneOfItsQueueInMemory_AndGetsItBackAfterWhatWasInFlight()
    {
        var store = new QueueKeepingStore();
        await using var broker = Broker(store, o => o.MaxInflightMessages = 2);
        var first = new TestClient(broker, ProtocolVersion.V311);
        await first.ConnectAsync(Subscriber, cleanStart: false);
        await first.SubscribeAsync("t/#", QualityOfService.AtLeastOnce);
        await PublishAsync(broker, 0, 10);
        Assert.Equal((4, 4, 2), Shape(broker));
        await first.DropAsync();
        await first.ExpectClosedAsync();
        await first.DisposeAsync();
        Assert.Equal((0, 8, 2), Shape(broker)); // what was in flight stays in memory, to be sent again first [MQTT-4.4.0-1]

        await using var back = new TestClient(broker, ProtocolVersion.V311);
        await back.ConnectAsync(Subscriber, cleanStart: false);
        var resent = await back.ExpectPublishAsync();
        Assert.True(resent.Dup);
        await back.SendAsync(new PublishAckPacket(PacketType.PubAck, resent.PacketId));
        var payloads = new List<string> { Text.Of(resent.Payload) };
        payloads.AddRange(await ReceiveAsync(back, 9));
        Assert.Equal(Expected(0, 10), payloads);
    }

    [Fact]
    public async Task OverItsLimit_AnOfflineSession_DropsItsOldest_ReadingThemBackFromTheStore()
    {
        var store = new QueueKeepingStore();
        await using var broker = Broker(store, o => o.MaxPersistentQueuedMessages = 10);
        await TestClient.LeaveOfflineSessionAsync(broker, Subscriber, "t/#");
        await PublishAsync(broker, 0, 25);

        var session = broker.FindSession(Subscriber)!;
        Assert.True(await EventuallyAsync(() =>
        {
            lock (session.Sync)
                return session.Pending.Count == 10 && !session.Pending.Refilling;
        }, TimeSpan.FromSeconds(5)));
        Assert.Equal(15, session.DroppedFor(DropReason.QueueFull));
        Assert.Equal(10, store.Stored(Subscriber));

        await using var back = new TestClient(broker, ProtocolVersion.V311);
        await back.ConnectAsync(Subscriber, cleanStart: false);
        Assert.Equal(Expected(15, 10), await ReceiveAsync(back, 10));
        await back.ExpectNothingAsync();
    }

    [Fact]
    public async Task WithTheInMemoryStore_AQueueStaysInMemory_UnderTheMemoryLimits()
    {
        // --in-memory: nothing can be read back, so nothing is left to the store, and Broker:MaxQueuedMessages applies.
        await using var broker = Broker(InMemoryStore.Instance, o => o.MaxQueuedMessages = 5);
        await TestClient.LeaveOfflineSessionAsync(broker, Subscriber, "t/#");
        await PublishAsync(broker, 0, 8);

        Assert.Equal((5, 0, 0), Shape(broker));
        Assert.Equal(3, broker.FindSession(Subscriber)!.DroppedFor(DropReason.QueueFull));
        await using var back = new TestClient(broker, ProtocolVersion.V311);
        await back.ConnectAsync(Subscriber, cleanStart: false);
        Assert.Equal(Expected(3, 5), await ReceiveAsync(back, 5));
    }

    [Fact]
    public async Task ResumedWithExpiryZero_ASessionStillGetsWhatIsOnlyInTheStore_AndIsDeletedWhenItEnds()
    {
        var store = new QueueKeepingStore();
        await using var broker = Broker(store);
        await using (var first = new TestClient(broker, ProtocolVersion.V500))
        {
            await first.ConnectAsync(Subscriber, cleanStart: false, properties: new MqttProperties { SessionExpiryInterval = 3600 });
            await first.SubscribeAsync("t/#", QualityOfService.AtLeastOnce);
            await first.DisconnectAsync();
        }

        await PublishAsync(broker, 0, 10);
        Assert.Equal((0, 10, 0), Shape(broker));

        // Session Expiry 0 now: the session ends with this connection, but first its client gets what was queued.
        await using var back = new TestClient(broker, ProtocolVersion.V500);
        Assert.True((await back.ConnectAsync(Subscriber, cleanStart: false)).SessionPresent);
        Assert.Equal(Expected(0, 10), await ReceiveAsync(back, 10));
        await back.DisconnectAsync();
        Assert.Null(broker.FindSession(Subscriber));
        Assert.Equal(0, store.Stored(Subscriber));
    }
}
