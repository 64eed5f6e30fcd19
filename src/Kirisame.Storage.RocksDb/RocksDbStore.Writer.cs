using Kirisame.Broker.Delivery;
using Microsoft.Extensions.Logging;
using RocksDbSharp;

namespace Kirisame.Storage.RocksDb;

/// The writer thread and the state only it touches: which message bodies are stored and how many queue
/// entries refer to each, and each session's queue entries (to pick SingleDelete and to keep the queue head).
public sealed partial class RocksDbStore
{
    private readonly Dictionary<BrokerMessage, Body> _bodies = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, QueueIndex> _queues = new(StringComparer.Ordinal);
    private readonly List<QueueIndex> _dirtyHeads = [];
    private readonly List<Waiter> _ready = [];
    private long _nextBodyId = 1;
    private bool _walDirty;
    private long _lastWalSync;

    private sealed class Body(long id, BrokerMessage message)
    {
        public long Id { get; } = id;

        public BrokerMessage Message { get; } = message;

        public byte[] Key { get; } = StorageKeys.Body(id);

        public int References { get; set; }
    }

    /// A session's queue as stored. <see cref="Entry.Puts"/> counts writes of an entry made by this process
    /// (−1: loaded, unknown): an entry written exactly once is removed with SingleDelete, whose tombstone
    /// vanishes together with the value at the next compaction instead of lingering until the last level.
    private sealed class QueueIndex(string clientId)
    {
        public byte[] Prefix { get; } = StorageKeys.SessionPrefix(clientId);

        public byte[] HeadKey { get; } = StorageKeys.QueueHead(clientId);

        public Dictionary<long, Entry> Entries { get; } = [];

        public SortedSet<long> Live { get; } = [];

        /// The head record on disk (0: none). Start-up seeks to it, so deleted entries below it are never read.
        public long PersistedHead { get; set; }

        public long MaxSequence { get; set; }

        public bool HeadDirty { get; set; }
    }

    private struct Entry
    {
        public Body? Body;
        public int Puts;
    }

    private void WriterLoop()
    {
        var spare = new List<Op>();
        while (true)
        {
            List<Op> ops;
            bool stopping;
            lock (_gate)
            {
                while (_queued.Count == 0 && !_stopping && !WaitersReadyLocked())
                {
                    if (!Monitor.Wait(_gate, SyncTimeout()))
                        break;
                }

                ops = _queued;
                _queued = spare;
                stopping = _stopping;
            }

            for (var start = 0; start < ops.Count; start += _options.MaxBatchOperations)
            {
                var count = Math.Min(_options.MaxBatchOperations, ops.Count - start);
                Commit(ops, start, count, stopping);
                Volatile.Write(ref _durableMark, ops[start + count - 1].Mark);
                RunReadyWaiters();
            }

            var wrote = ops.Count > 0;
            ops.Clear();
            spare = ops;
            SyncWalIfDue();
            RunReadyWaiters();
            if (stopping && !wrote)
            {
                lock (_gate)
                {
                    if (_queued.Count == 0)
                        break;
                }
            }
        }

        RunReadyWaiters();
    }

    private bool WaitersReadyLocked() => _waiters.TryPeek(out var waiter) && waiter.Mark <= Volatile.Read(ref _durableMark);

    private int SyncTimeout()
    {
        if (_options.Durability != DurabilityMode.Batched || !_walDirty)
            return Timeout.Infinite;
        var due = _lastWalSync + (long)(_options.BatchedSyncInterval.TotalSeconds * _options.TimeProvider.TimestampFrequency);
        var left = (due - _options.TimeProvider.GetTimestamp()) * 1000 / _options.TimeProvider.TimestampFrequency;
        return (int)Math.Clamp(left, 0, int.MaxValue);
    }

    /// Batched mode: the WAL has been written (page cache) with every batch; fsync it on the timer.
    private void SyncWalIfDue()
    {
        if (_options.Durability != DurabilityMode.Batched || !_walDirty || SyncTimeout() > 0 || _db is null)
            return;
        try
        {
            Native.Instance.rocksdb_flush_wal(_db.Handle, 1);
            _walDirty = false;
            _lastWalSync = _options.TimeProvider.GetTimestamp();
        }
        catch (RocksDbException ex)
        {
            WriteFailed(ex);
        }
    }

    private void RunReadyWaiters()
    {
        lock (_gate)
        {
            var durable = Volatile.Read(ref _durableMark);
            while (_waiters.TryPeek(out var waiter) && waiter.Mark <= durable)
                _ready.Add(_waiters.Dequeue());
        }

        foreach (var waiter in _ready)
        {
            try
            {
                waiter.Callback(waiter.State);
            }
            catch (Exception ex)
            {
                Logger.LogError(ex, "Storage: a durability callback failed");
            }
        }

        _ready.Clear();
    }

    /// Builds one WriteBatch and writes it, retrying until it succeeds: what the broker was told is durable
    /// must not be skipped. Only when stopping is a failing batch given up (and logged).
    private void Commit(List<Op> ops, int start, int count, bool stopping)
    {
        var startedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        using var batch = new WriteBatch();
        for (var i = start; i < start + count; i++)
            Apply(batch, ops[i]);
        FinishHeads(batch);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                if (_db is null)
                    Reopen();
                _db!.Write(batch, _writeOptions);
                _walDirty = true;
                if (!_healthy)
                {
                    _healthy = true;
                    Logger.LogWarning("Storage: writes to {Directory} succeed again after {Failures} failed attempts; accepting QoS 1/2 messages again",
                        _options.DataDirectory, WriteFailures);
                }

                Committed(startedAt, count);
                return;
            }
            catch (Exception ex) when (ex is RocksDbException or StoreOpenException)
            {
                WriteFailed(ex);
                if (stopping && attempt >= 3)
                {
                    Logger.LogError("Storage: giving up a batch of {Count} operations at shutdown: {Error}", count, ex.Message);
                    return;
                }

                lock (_gate)
                    Monitor.Wait(_gate, _options.RetryInterval);
                if (attempt >= 2)
                    CloseForReopen();
            }
        }
    }

    private void WriteFailed(Exception ex)
    {
        Interlocked.Increment(ref _writeFailures);
        Logger.LogDebug("Storage: write attempt failed: {Error}", ex.Message);
        if (_healthy)
        {
            _healthy = false;
            // Logged once per episode: a full disk would otherwise log at the rate of retries.
            Logger.LogError("Storage: writing to {Directory} failed ({Error}); refusing QoS 1/2 messages and retrying until it works",
                _options.DataDirectory, ex.Message);
        }
    }

    /// After repeated failures RocksDB may have stopped accepting writes (a background error); closing and
    /// opening the database again clears that once the cause (e.g. a full disk) is gone.
    private void CloseForReopen()
    {
        try
        {
            _db?.Dispose();
        }
        catch (RocksDbException)
        {
        }

        _db = null;
    }

    private void Reopen() => _db = OpenRaw(Path.GetFullPath(_options.DataDirectory));

    private void Apply(WriteBatch batch, Op op)
    {
        switch (op.Kind)
        {
            case OpKind.PutSession:
                batch.Put(StorageKeys.SessionMeta(op.ClientId), op.Value!);
                break;
            case OpKind.DeleteSession:
                var (start, end) = StorageKeys.SessionRange(op.ClientId);
                batch.DeleteRange(start, (ulong)start.Length, end, (ulong)end.Length);
                if (_queues.Remove(op.ClientId, out var removed))
                {
                    foreach (var entry in removed.Entries.Values)
                        Release(batch, entry.Body);
                    _dirtyHeads.Remove(removed);
                }

                break;
            case OpKind.PutSubscription:
                batch.Put(StorageKeys.Subscription(op.ClientId, op.Name!), op.Value!);
                break;
            case OpKind.DeleteSubscription:
                batch.Delete(StorageKeys.Subscription(op.ClientId, op.Name!));
                break;
            case OpKind.PutRetained:
                batch.Put(StorageKeys.Retained(op.Name!), StorageFormat.EncodeMessage(op.Message!, ToUnixMs(op.Message!.ReceivedAtTicks)));
                break;
            case OpKind.DeleteRetained:
                batch.Delete(StorageKeys.Retained(op.Name!));
                break;
            case OpKind.PutQueued:
                PutQueued(batch, op);
                break;
            case OpKind.DeleteQueued:
                DeleteQueued(batch, op);
                break;
            case OpKind.PutInbound:
                batch.Put(StorageKeys.InboundQoS2(op.ClientId, (ushort)op.Number), StorageFormat.InboundQoS2Value);
                break;
            case OpKind.DeleteInbound:
                batch.Delete(StorageKeys.InboundQoS2(op.ClientId, (ushort)op.Number));
                break;
        }
    }

    private QueueIndex Queue(string clientId)
    {
        if (!_queues.TryGetValue(clientId, out var queue))
            _queues.Add(clientId, queue = new QueueIndex(clientId));
        return queue;
    }

    private void PutQueued(WriteBatch batch, Op op)
    {
        var queue = Queue(op.ClientId);
        var sequence = op.Number;
        queue.Entries.TryGetValue(sequence, out var entry);
        if (entry.Body?.Message != op.Message)
        {
            var body = Acquire(batch, op.Message!);
            Release(batch, entry.Body);
            entry.Body = body;
        }

        if (entry.Puts >= 0)
            entry.Puts++;
        queue.Entries[sequence] = entry;
        if (queue.Live.Add(sequence) && queue.PersistedHead > sequence)
            MarkHeadDirty(queue); // numbered below the head (a session restarted its count): the head must move down
        queue.MaxSequence = Math.Max(queue.MaxSequence, sequence);
        var value = StorageFormat.EncodeQueueEntry(entry.Body!.Id, op.QoS, op.Retain, op.SubscriptionIds, op.Group, op.PacketId, op.State);
        batch.Put(StorageKeys.QueueEntry(queue.Prefix, sequence), value);
    }

    private void DeleteQueued(WriteBatch batch, Op op)
    {
        var queue = Queue(op.ClientId);
        var key = StorageKeys.QueueEntry(queue.Prefix, op.Number);
        if (!queue.Entries.Remove(op.Number, out var entry))
        {
            batch.Delete(key); // never written by this process nor loaded: nothing to count
            return;
        }

        if (entry.Puts == 1)
            Native.Instance.rocksdb_writebatch_singledelete(batch.Handle, key, (UIntPtr)key.Length);
        else
            batch.Delete(key);
        Release(batch, entry.Body);
        queue.Live.Remove(op.Number);
        MarkHeadDirty(queue);
    }

    private void MarkHeadDirty(QueueIndex queue)
    {
        if (queue.HeadDirty)
            return;
        queue.HeadDirty = true;
        _dirtyHeads.Add(queue);
    }

    /// Once per batch: the head record moves to the lowest live entry (or past the last one), so start-up
    /// seeks over every deleted entry below it.
    private void FinishHeads(WriteBatch batch)
    {
        foreach (var queue in _dirtyHeads)
        {
            queue.HeadDirty = false;
            var head = queue.Live.Count > 0 ? queue.Live.Min : queue.MaxSequence + 1;
            if (head == queue.PersistedHead)
                continue;
            queue.PersistedHead = head;
            batch.Put(queue.HeadKey, StorageFormat.EncodeQueueHead(head));
        }

        _dirtyHeads.Clear();
    }

    /// The stored body of a message, written with its first reference. Bodies are written once and removed
    /// once, so SingleDelete applies.
    private Body Acquire(WriteBatch batch, BrokerMessage message)
    {
        if (!_bodies.TryGetValue(message, out var body))
        {
            body = new Body(_nextBodyId++, message);
            _bodies.Add(message, body);
            batch.Put(body.Key, StorageFormat.EncodeMessage(message, ToUnixMs(message.ReceivedAtTicks)));
        }

        body.References++;
        return body;
    }

    private void Release(WriteBatch batch, Body? body)
    {
        if (body is null || --body.References > 0)
            return;
        _bodies.Remove(body.Message);
        Native.Instance.rocksdb_writebatch_singledelete(batch.Handle, body.Key, (UIntPtr)body.Key.Length);
    }
}
