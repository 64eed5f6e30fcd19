using Kirisame.Broker.Delivery;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;
using Kirisame.Protocol;
using Kirisame.Storage.RocksDb;

namespace Kirisame.Storage.Tests;

public sealed class GroupCommitTests
{
    [Fact]
    public async Task WhenDurable_CallsBackInMarkOrder_OnceWritten()
    {
        using var folder = new TempFolder();
        await using var store = Samples.Open(folder.Path, TimeProvider.System);
        store.Load();
        var message = Samples.Message(TimeProvider.System, "t", "m");
        var completed = new List<long>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        const int PerThread = 500;
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            var client = "c" + t;
            store.PutSession(new SessionRecord(client, 60));
            for (var i = 1; i <= PerThread; i++)
            {
                store.PutQueued(client, new QueuedMessage(message, QualityOfService.AtLeastOnce, false, [], null, i), 0, InflightState.AwaitingAck);
                store.WhenDurable(store.Mark(), state =>
                {
                    var mark = (long)state!;
                    Assert.True(store.IsDurable(mark));
                    lock (completed)
                    {
                        completed.Add(mark);
                        if (completed.Count == 4 * PerThread)
                            all.SetResult();
                    }
                }, store.Mark());
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        await all.Task.WaitAsync(TimeSpan.FromSeconds(60));
        // Each thread registered increasing marks; the callbacks ran on the writer in registration order.
        Assert.Equal(4 * PerThread, completed.Count);
        Assert.True(store.IsDurable(store.Mark()));
    }

    [Fact]
    public async Task BatchedMode_IsDurableAtOnce_AndStillWrites()
    {
        using var folder = new TempFolder();
        await using (var store = Samples.Open(folder.Path, TimeProvider.System, DurabilityMode.Batched))
        {
            store.Load();
            store.PutSession(new SessionRecord("b", 60));
            Assert.True(store.IsDurable(store.Mark()));
            var called = false;
            store.WhenDurable(store.Mark(), _ => called = true, null);
            Assert.True(called);
        }

        await using (var store = Samples.Open(folder.Path, TimeProvider.System, DurabilityMode.Batched))
            Assert.Equal("b", Assert.Single(store.Load().Sessions).ClientId);
    }

    [Fact]
    public async Task NoneMode_KeepsStateAcrossACleanShutdown()
    {
        using var folder = new TempFolder();
        await using (var store = Samples.Open(folder.Path, TimeProvider.System, DurabilityMode.None))
        {
            store.Load();
            store.PutSession(new SessionRecord("n", 60));
        }

        await using (var store = Samples.Open(folder.Path, TimeProvider.System, DurabilityMode.None))
            Assert.Equal("n", Assert.Single(store.Load().Sessions).ClientId);
    }

    [Fact]
    public async Task SyncMode_IsNotDurableUntilWritten()
    {
        using var folder = new TempFolder();
        await using var store = Samples.Open(folder.Path, TimeProvider.System);
        store.Load();
        Assert.True(store.IsDurable(store.Mark())); // nothing queued yet
        store.PutSession(new SessionRecord("s", 60));
        var mark = store.Mark();
        await Samples.DurableAsync(store);
        Assert.True(store.IsDurable(mark));
        Assert.True(store.Healthy);
        Assert.Equal(0, store.WriteFailures);
    }
}
