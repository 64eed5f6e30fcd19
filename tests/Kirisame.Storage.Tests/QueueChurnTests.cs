using Kirisame.Broker.Delivery;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;
using Kirisame.Protocol;
using Kirisame.Storage.RocksDb;
using RocksDbSharp;

namespace Kirisame.Storage.Tests;

/// Delete-after-acknowledge must not make reading a queue slower over time. RocksDB's perf context counts
/// the deleted (and overwritten) entries an iterator steps over; it is thread-local, so each read runs on
/// the test's thread. With the queue head recorded, a read seeks past every deleted entry below it.
public sealed class QueueChurnTests
{
    private const int Window = 100;

    [Fact]
    public async Task ReadingTheQueueHead_StaysCheap_AfterAMillionDeletes()
    {
        using var folder = new TempFolder();
        var time = TimeProvider.System;
        await using var store = Samples.Open(folder.Path, time, DurabilityMode.None);
        store.Load();
        store.PutSession(new SessionRecord("churn", 60));
        var live = new Queue<long>();
        var skippedAt = new List<ulong>();
        BrokerMessage? message = null;
        var sequence = 0L;
        foreach (var checkpoint in new[] { 100_000, 500_000, 1_000_000 })
        {
            while (sequence < checkpoint)
            {
                if (sequence % 1000 == 0)
                    message = Samples.Message(time, "t", "payload " + sequence);
                sequence++;
                store.PutQueued("churn", new QueuedMessage(message!, QualityOfService.AtLeastOnce, false, [], null, sequence), 0, InflightState.AwaitingAck);
                live.Enqueue(sequence);
                if (live.Count > Window)
                    store.DeleteQueued("churn", live.Dequeue(), message!);
                if (sequence % 50_000 == 0)
                    await Samples.DurableAsync(store); // keeps the operations waiting for the writer bounded
            }

            await Samples.DurableAsync(store);
            var (session, skipped) = Measure(() => store.ReadSession("churn"));
            Assert.Equal(live, session!.Queue.Select(q => q.Queued.Sequence));
            skippedAt.Add(skipped);
        }

        // 1 000 000 entries written and 999 900 deleted; reading the queue steps over (almost) none of them,
        // at the first checkpoint as at the last.
        Assert.All(skippedAt, skipped => Assert.True(skipped < 1_000,
            $"reading the queue stepped over {string.Join(", ", skippedAt)} stale entries at the checkpoints"));
    }

    [Fact]
    public void WithoutAHead_ReadingFromTheStartStepsOverTheDeletes()
    {
        // The control for the test above: the same measure does count tombstones when a read walks through them.
        using var folder = new TempFolder();
        using var db = RocksDbSharp.RocksDb.Open(new DbOptions().SetCreateIfMissing(true), folder.Path);
        var prefix = StorageKeys.SessionPrefix("walk");
        using (var batch = new WriteBatch())
        {
            for (var i = 1; i <= 20_000; i++)
                batch.Put(StorageKeys.QueueEntry(prefix, i), new byte[] { 1 });
            db.Write(batch);
        }

        using (var batch = new WriteBatch())
        {
            for (var i = 1; i < 20_000; i++)
            {
                var key = StorageKeys.QueueEntry(prefix, i);
                Native.Instance.rocksdb_writebatch_singledelete(batch.Handle, key, (UIntPtr)key.Length);
            }

            db.Write(batch);
        }

        var (first, skipped) = Measure(() =>
        {
            using var iterator = db.NewIterator();
            iterator.Seek(StorageKeys.QueueEntry(prefix, 0));
            return iterator.Valid() ? iterator.Key() : null;
        });
        Assert.Equal(StorageKeys.QueueEntry(prefix, 20_000), first);
        Assert.True(skipped >= 19_999, $"skipped {skipped}");
    }

    private static (T Result, ulong Skipped) Measure<T>(Func<T> read)
    {
        var native = Native.Instance;
        native.rocksdb_set_perf_level(PerfLevel.EnableCount);
        var context = native.rocksdb_perfcontext_create();
        try
        {
            native.rocksdb_perfcontext_reset(context);
            var result = read();
            var skipped = native.rocksdb_perfcontext_metric(context, PerfMetric.InternalDeleteSkippedCount)
                + native.rocksdb_perfcontext_metric(context, PerfMetric.InternalKeySkippedCount);
            return (result, skipped);
        }
        finally
        {
            native.rocksdb_perfcontext_destroy(context);
            native.rocksdb_set_perf_level(PerfLevel.Disable);
        }
    }
}
