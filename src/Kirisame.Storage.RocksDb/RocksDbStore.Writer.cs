using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kirisame.Broker.Delivery;
using Microsoft.Extensions.Logging;
using RocksDbSharp;

namespace Kirisame.Storage.RocksDb;

/// The writer thread and the state only it touches: each session's queue entries (the body each refers to, whether
/// SingleDelete may remove it, the queue head), and how many entries refer to a body that several queues share.
///
/// Nothing here holds a message. A stored body is known by its id; the message carries a <see cref="BodyTag"/>
/// (<see cref="BrokerMessage.StoreTag"/>) naming its body and one entry that referred to it, so the next queue that
/// holds the same message shares the body if that entry still does. A queue whose messages are only on disk costs the
/// writer 16 to 32 bytes per message (<see cref="QueueEntries"/>), and a body held by one queue nothing more.
public sealed partial class RocksDbStore
{
    /// Set on a queue entry's body id when the entry was written more than once by this process, or was loaded (its
    /// writes unknown): SingleDelete must not remove it.
    private const long Rewritten = 1L << 62;

    /// Bodies referred to by more than one queue entry → how many. A body that is not here has exactly one entry (or
    /// none: then it was deleted). A body is written with its first reference and removed with its last; an id is
    /// never used twice.
    private readonly Dictionary<long, int> _sharedBodies = [];
    private readonly Dictionary<string, QueueIndex> _queues = new(StringComparer.Ordinal);
    private readonly List<QueueIndex> _dirtyHeads = [];
    private readonly List<Waiter> _ready = [];
    private long _nextBodyId = 1;
    private bool _walDirty;
    private long _lastWalSync;

    /// A session's queue as stored. Each live entry's body value is its body id, with <see cref="Rewritten"/> when it
    /// was written more than once: an entry written exactly once is removed with SingleDelete, whose tombstone
    /// vanishes together with the value at the next compaction instead of lingering until the last level.
    private sealed class QueueIndex(string clientId)
    {
        public string ClientId { get; } = clientId;

        public byte[] Prefix { get; } = StorageKeys.SessionPrefix(clientId);

        public byte[] HeadKey { get; } = StorageKeys.QueueHead(clientId);

        public QueueEntries Entries { get; } = new();

        /// The head record on disk (0: none). Start-up seeks to it, so deleted entries below it are never read.
        public long PersistedHead { get; set; }

        public long MaxSequence { get; set; }

        public bool HeadDirty { get; set; }
    }

    /// What a message carries to find its stored body again: the body, and the last entry made for it (the one most
    /// likely to be there still, as queues drain oldest first). Changed only on the writer thread.
    internal sealed class BodyTag(long bodyId, string clientId, long sequence)
    {
        public long BodyId { get; } = bodyId;

        public string ClientId { get; private set; } = clientId;

        public long Sequence { get; private set; } = sequence;

        public void Moved(string clientId, long sequence)
        {
            ClientId = clientId;
            Sequence = sequence;
        }
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
        _dbLock.EnterWriteLock(); // no queue read may be using the handle
        try
        {
            _db?.Dispose();
        }
        catch (RocksDbException)
        {
        }
        finally
        {
            _db = null;
            _dbLock.ExitWriteLock();
        }
    }

    private void Reopen()
    {
        var db = OpenRaw(Path.GetFullPath(_options.DataDirectory));
        _dbLock.EnterWriteLock();
        _db = db;
        _dbLock.ExitWriteLock();
    }

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
                    foreach (var body in removed.Entries.Bodies())
                        Release(batch, body & ~Rewritten);
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
        var existing = queue.Entries.Get(sequence);
        long bodyId;
        if (existing != 0)
        {
            // A later state of the same entry (sent, PUBREC received): same message, same body.
            bodyId = existing & ~Rewritten;
            queue.Entries.Set(sequence, existing | Rewritten);
        }
        else
        {
            bodyId = Acquire(batch, op.Message!, queue, sequence);
            queue.Entries.Add(sequence, bodyId);
            if (queue.PersistedHead > sequence)
                MarkHeadDirty(queue); // numbered below the head (a session restarted its count): the head must move down
            queue.MaxSequence = Math.Max(queue.MaxSequence, sequence);
        }

        var value = StorageFormat.EncodeQueueEntry(bodyId, op.Message!.Size, op.QoS, op.Retain, op.SubscriptionIds, op.Group, op.PacketId, op.State);
        batch.Put(StorageKeys.QueueEntry(queue.Prefix, sequence), value);
    }

    private void DeleteQueued(WriteBatch batch, Op op)
    {
        var queue = Queue(op.ClientId);
        var key = StorageKeys.QueueEntry(queue.Prefix, op.Number);
        var body = queue.Entries.Remove(op.Number);
        if (body == 0)
        {
            batch.Delete(key); // never written by this process nor loaded: nothing to count
            return;
        }

        if ((body & Rewritten) == 0)
            Native.Instance.rocksdb_writebatch_singledelete(batch.Handle, key, (UIntPtr)key.Length);
        else
            batch.Delete(key);
        Release(batch, body & ~Rewritten);
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
            var head = queue.Entries.Count > 0 ? queue.Entries.First : queue.MaxSequence + 1;
            if (head == queue.PersistedHead)
                continue;
            queue.PersistedHead = head;
            batch.Put(queue.HeadKey, StorageFormat.EncodeQueueHead(head));
        }

        _dirtyHeads.Clear();
    }

    /// The stored body for a new entry of <paramref name="message"/>: the one its tag names when that body still
    /// exists (a message shared by several queues is stored once), else a new one, written now. Bodies are written
    /// once and removed once, so SingleDelete applies.
    private long Acquire(WriteBatch batch, BrokerMessage message, QueueIndex queue, long sequence)
    {
        if (message.StoreTag is BodyTag tag)
        {
            ref var shared = ref CollectionsMarshal.GetValueRefOrNullRef(_sharedBodies, tag.BodyId);
            if (!Unsafe.IsNullRef(ref shared))
            {
                shared++;
                tag.Moved(queue.ClientId, sequence);
                return tag.BodyId;
            }

            // Held by one entry: the body exists if the entry the tag names still refers to it. (If that entry is gone
            // while another still refers to the body, the message is stored anew: a copy more, never one too few.)
            if (_queues.TryGetValue(tag.ClientId, out var holder) && (holder.Entries.Get(tag.Sequence) & ~Rewritten) == tag.BodyId)
            {
                _sharedBodies.Add(tag.BodyId, 2);
                tag.Moved(queue.ClientId, sequence);
                return tag.BodyId;
            }
        }

        var id = _nextBodyId++;
        message.StoreTag = new BodyTag(id, queue.ClientId, sequence);
        batch.Put(StorageKeys.Body(id), StorageFormat.EncodeMessage(message, ToUnixMs(message.ReceivedAtTicks)));
        return id;
    }

    /// One entry less refers to the body: the last one deletes it.
    private void Release(WriteBatch batch, long bodyId)
    {
        ref var shared = ref CollectionsMarshal.GetValueRefOrNullRef(_sharedBodies, bodyId);
        if (!Unsafe.IsNullRef(ref shared))
        {
            var left = --shared;
            if (left <= 1)
                _sharedBodies.Remove(bodyId); // one left: no longer shared
            if (left > 0)
                return;
        }

        var key = StorageKeys.Body(bodyId);
        Native.Instance.rocksdb_writebatch_singledelete(batch.Handle, key, (UIntPtr)key.Length);
    }
}
