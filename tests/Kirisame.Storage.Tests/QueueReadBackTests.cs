using System.Runtime.CompilerServices;
using System.Text;
using Kirisame.Broker;
using Kirisame.Broker.Clients;
using Kirisame.Broker.Delivery;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;
using Kirisame.Protocol;
using Kirisame.Storage.RocksDb;

namespace Kirisame.Storage.Tests;

/// Reading a queue back (docs/adr/0010): the store keeps a persistent session's queue, start-up leaves its pending
/// messages on disk, and the broker reads them in order when their client wants them.
public sealed class QueueReadBackTests
{
    private readonly Microsoft.Extensions.Time.Testing.FakeTimeProvider _time = Samples.Clock();

    private static QueuedMessage Entry(BrokerMessage message, long sequence) => new(message, QualityOfService.AtLeastOnce, false, [], null, sequence);

    [Fact]
    public async Task ReadQueued_ReturnsPendingEntriesInOrder_FromASequence_WithinItsLimits()
    {
        using var folder = new TempFolder();
        await using var store = Samples.Open(folder.Path, _time);
        store.Load();
        store.PutSession(new SessionRecord("q", 60));
        for (var i = 1; i <= 10; i++)
            store.PutQueued("q", Entry(Samples.Message(_time, "t", "payload-" + i), i), 0, InflightState.AwaitingAck);
        store.PutQueued("q", Entry(Samples.Message(_time, "t", "payload-4"), 4), 9, InflightState.AwaitingAck); // sent: in flight now
        store.DeleteQueued("q", 6, Samples.Message(_time, "t", ""));
        store.PutQueued("other", Entry(Samples.Message(_time, "t", "not mine"), 11), 0, InflightState.AwaitingAck);

        // What was queued before the read is read, without waiting for anyone to wait for it to be written.
        Assert.Equal([3L, 5, 7, 8], (await store.ReadQueuedAsync("q", 3, 4, long.MaxValue)).Select(q => q.Sequence));
        Assert.Equal([9L, 10], (await store.ReadQueuedAsync("q", 9, 100, long.MaxValue)).Select(q => q.Sequence));
        Assert.Empty(await store.ReadQueuedAsync("q", 11, 100, long.MaxValue));
        // Bytes: stops once the limit is reached, with at least one entry ("t" + "payload-N" = 10 bytes each).
        Assert.Equal([1L], (await store.ReadQueuedAsync("q", 0, 100, 1)).Select(q => q.Sequence));
        Assert.Equal([1L, 2], (await store.ReadQueuedAsync("q", 0, 100, 11)).Select(q => q.Sequence));
        var read = await store.ReadQueuedAsync("q", 2, 1, long.MaxValue);
        Assert.Equal("payload-2", Samples.Text(Assert.Single(read).Message.Payload));
    }

    [Fact]
    public async Task AMessageHeldBySeveralQueues_IsStoredOnce_WhileAQueueStillHoldsIt()
    {
        using var folder = new TempFolder();
        var message = Samples.Message(_time, "t", "fan-out");
        await using (var store = Samples.Open(folder.Path, _time))
        {
            store.Load();
            store.PutQueued("a", Entry(message, 1), 0, InflightState.AwaitingAck);
            store.PutQueued("b", Entry(message, 1), 0, InflightState.AwaitingAck);
            store.DeleteQueued("a", 1, message);
            store.PutQueued("c", Entry(message, 1), 0, InflightState.AwaitingAck); // b still holds the body: shared again
            await Samples.DurableAsync(store);
            Assert.Equal(1, Samples.CountBodies(store));
            store.DeleteQueued("b", 1, message);
            store.DeleteQueued("c", 1, message);
            await Samples.DurableAsync(store);
            Assert.Equal(0, Samples.CountBodies(store));
            store.PutQueued("d", Entry(message, 1), 0, InflightState.AwaitingAck); // its body is gone: written anew
            await Samples.DurableAsync(store);
            Assert.Equal(1, Samples.CountBodies(store));
            Assert.Equal("fan-out", Samples.Text(Assert.Single(await store.ReadQueuedAsync("d", 0, 10, long.MaxValue)).Message.Payload));
        }
    }

    [Fact]
    public async Task TheStore_HoldsNoMessageOnceItIsWritten()
    {
        // The writer's index knows bodies by id: a queue on disk costs the process no message objects.
        using var folder = new TempFolder();
        await using var store = Samples.Open(folder.Path, _time);
        store.Load();
        store.PutSession(new SessionRecord("q", 60));
        var written = PutAndForget(store);
        await Samples.DurableAsync(store);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.False(written.TryGetTarget(out _));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private WeakReference<BrokerMessage> PutAndForget(RocksDbStore store)
    {
        var message = Samples.Message(_time, "t", new string('x', 1000));
        store.PutQueued("q", Entry(message, 1), 0, InflightState.AwaitingAck);
        return new WeakReference<BrokerMessage>(message);
    }

    [Fact]
    public async Task ADeepOfflineQueue_StaysOnDiskAcrossARestart_AndIsDeliveredInOrder()
    {
        const int count = 5_000;
        using var folder = new TempFolder();
        var options = new BrokerOptions { SysInterval = 0, QueueWindowMessages = 100 };
        await using (var store = Samples.Open(folder.Path, TimeProvider.System))
        {
            var broker = new MqttBroker(options, store: store);
            broker.Restore(store.Load());
            await using (var subscriber = await InProcessClient.ConnectAsync(broker, Persistent()))
                await subscriber.SubscribeAsync("deep/#", QualityOfService.AtLeastOnce);
            await using (var publisher = await InProcessClient.ConnectAsync(broker, new InProcessClientOptions { ClientId = "publisher" }))
            {
                for (var i = 0; i < count; i++)
                    Assert.Equal(ReasonCode.Success, await publisher.PublishAsync("deep/1", Encoding.UTF8.GetBytes($"m{i}"), QualityOfService.AtLeastOnce));
            }

            Assert.Equal(count, broker.Admin.GetSession("deep")!.PendingMessages);
            await broker.DisposeAsync();
        }

        await using (var store = Samples.Open(folder.Path, TimeProvider.System))
        {
            var state = store.Load();
            var stored = state.Sessions.Single(s => s.ClientId == "deep");
            Assert.Empty(stored.Queue); // nothing of it loaded
            Assert.Equal((count, 1L), (stored.StoredPendingCount, stored.StoredPendingFrom));
            Assert.Equal(Enumerable.Range(0, count).Sum(i => "deep/1".Length + $"m{i}".Length), stored.StoredPendingBytes);

            var broker = new MqttBroker(options, store: store);
            broker.Restore(state);
            Assert.Equal(count, broker.Admin.GetSession("deep")!.PendingMessages);
            await using (var subscriber = await InProcessClient.ConnectAsync(broker, Persistent()))
            {
                Assert.True(subscriber.SessionPresent);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                for (var i = 0; i < count; i++)
                    Assert.Equal($"m{i}", Encoding.UTF8.GetString((await subscriber.ReceiveAsync(timeout.Token)).Payload.Span));
            }

            Assert.Equal(0, broker.Admin.GetSession("deep")!.PendingMessages);
            await broker.DisposeAsync();
        }

        await using (var store = Samples.Open(folder.Path, TimeProvider.System))
        {
            var stored = store.Load().Sessions.Single(s => s.ClientId == "deep");
            Assert.Equal(0, stored.StoredPendingCount);
            Assert.Empty(stored.Queue);
        }
    }

    private static InProcessClientOptions Persistent() => new() { ClientId = "deep", CleanStart = false, SessionExpiryInterval = 3600 };
}
