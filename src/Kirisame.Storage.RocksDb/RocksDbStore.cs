using Kirisame.Broker.Delivery;
using Kirisame.Broker.Routing;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;
using Kirisame.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RocksDbSharp;

namespace Kirisame.Storage.RocksDb;

/// <see cref="IBrokerStore"/> on RocksDB. The broker's calls only queue an operation (with the session lock
/// held, so a session's operations are queued in order); one writer thread turns what has queued up into a
/// WriteBatch, writes it (fsync'd in <see cref="DurabilityMode.Sync"/>), then completes the marks up to its
/// last operation. Partial files: Writer (the thread, message bodies, queue heads), Load (start-up read),
/// Read (reading a queue back while running), Open (data folder checks).
public sealed partial class RocksDbStore : IBrokerStore
{
    private readonly object _gate = new();
    private readonly RocksDbStoreOptions _options;
    private readonly Thread _writer;

    // Guarded by _gate.
    private List<Op> _queued = [];
    private readonly Queue<Waiter> _waiters = new();
    private long _mark;
    private bool _stopping;

    private long _durableMark;
    private volatile bool _healthy = true;
    private long _writeFailures;
    private bool _loaded;

    private RocksDbStore(RocksDbStoreOptions options, RocksDbSharp.RocksDb db, ILogger logger)
    {
        _options = options;
        _db = db;
        Logger = logger;
        _writeOptions = NewWriteOptions(options.Durability);
        CreateInstruments();
        _writer = new Thread(WriterLoop) { IsBackground = true, Name = "Kirisame storage writer" };
        _writer.Start();
    }

    public DurabilityMode Durability => _options.Durability;

    /// Where failures and recoveries are logged; may be set once the host's logging exists.
    public ILogger Logger { get; set; }

    public string DataDirectory => _options.DataDirectory;

    /// False after a write failed (disk full, I/O error) until a retry succeeds. While false the broker should
    /// refuse new QoS 1/2 messages: they could not be made durable.
    public bool Healthy => _healthy;

    /// Failed write attempts since the store was opened (each retry counts).
    public long WriteFailures => Interlocked.Read(ref _writeFailures);

    /// Opens (creating if missing) the data folder. Throws <see cref="StoreOpenException"/> with a message for
    /// the operator when the folder cannot be used: locked by another process, corrupt, written by a newer or
    /// foreign program, or not writable.
    public static RocksDbStore Open(RocksDbStoreOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var db = OpenDatabase(options);
        return new RocksDbStore(options, db, logger ?? NullLogger.Instance);
    }

    public void PutSession(in SessionRecord session)
    {
        var disconnectedAt = session.DisconnectedAtTicks != 0 ? ToUnixMs(session.DisconnectedAtTicks) : 0;
        var will = session.PendingWill;
        var willAt = will is null ? 0 : ToUnixMs(session.PendingWillAtTicks);
        var value = StorageFormat.EncodeSession(session.ExpiryInterval, disconnectedAt, will, session.PendingWillVersion, willAt);
        Enqueue(new Op(OpKind.PutSession, session.ClientId) { Value = value });
    }

    public void DeleteSession(string clientId) => Enqueue(new Op(OpKind.DeleteSession, clientId));

    public void PutSubscription(string clientId, in SubscriptionRecord subscription) =>
        Enqueue(new Op(OpKind.PutSubscription, clientId)
        {
            Name = subscription.Filter,
            Value = StorageFormat.EncodeSubscription(subscription.Options, subscription.SubscriptionId),
        });

    public void DeleteSubscription(string clientId, string filter) => Enqueue(new Op(OpKind.DeleteSubscription, clientId) { Name = filter });

    public void PutRetained(BrokerMessage message) => Enqueue(new Op(OpKind.PutRetained, "") { Name = message.Topic, Message = message });

    public void DeleteRetained(string topic) => Enqueue(new Op(OpKind.DeleteRetained, "") { Name = topic });

    public void PutQueued(string clientId, in QueuedMessage queued, ushort packetId, InflightState state) =>
        Enqueue(new Op(OpKind.PutQueued, clientId)
        {
            Number = queued.Sequence,
            Message = queued.Message,
            QoS = queued.QoS,
            Retain = queued.Retain,
            SubscriptionIds = queued.SubscriptionIds,
            Group = queued.Group,
            PacketId = packetId,
            State = state,
        });

    public void DeleteQueued(string clientId, long sequence, BrokerMessage message) =>
        Enqueue(new Op(OpKind.DeleteQueued, clientId) { Number = sequence, Message = message });

    public void PutInboundQoS2(string clientId, ushort packetId) => Enqueue(new Op(OpKind.PutInbound, clientId) { Number = packetId });

    public void DeleteInboundQoS2(string clientId, ushort packetId) => Enqueue(new Op(OpKind.DeleteInbound, clientId) { Number = packetId });

    public long Mark() => Volatile.Read(ref _mark);

    public bool IsDurable(long mark) => _options.Durability != DurabilityMode.Sync || mark <= Volatile.Read(ref _durableMark);

    public void WhenDurable(long mark, Action<object?> callback, object? state)
    {
        if (_options.Durability != DurabilityMode.Sync)
        {
            // batched / none: acknowledged before the disk has it (the documented window of loss).
            callback(state);
            return;
        }

        WhenWritten(mark, callback, state);
    }

    /// Completes once everything queued so far has been written to RocksDB (fsync'd in sync mode), whatever
    /// the durability mode.
    public Task WrittenAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        WhenWritten(Mark(), static state => ((TaskCompletionSource)state!).SetResult(), done);
        return done.Task;
    }

    private void WhenWritten(long mark, Action<object?> callback, object? state)
    {
        lock (_gate)
        {
            _waiters.Enqueue(new Waiter(mark, callback, state));
            Monitor.Pulse(_gate);
        }
    }

    private long ToUnixMs(long timestamp) => WallClock.ToUnixMs(_options.TimeProvider, timestamp);

    private void Enqueue(Op op)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopping, this);
            op.Mark = ++_mark;
            _queued.Add(op);
            Monitor.Pulse(_gate);
        }
    }

    /// Writes everything queued so far, then closes the database. In mode none the memtable is flushed to
    /// files, so a clean shutdown keeps everything even without a WAL.
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_stopping)
                return;
            _stopping = true;
            Monitor.Pulse(_gate);
        }

        await Task.Run(_writer.Join);
        _dbLock.EnterWriteLock(); // waits for queue reads in progress; later ones find no database
        try
        {
            if (_db is not null)
            {
                if (_options.Durability == DurabilityMode.Batched)
                    Native.Instance.rocksdb_flush_wal(_db.Handle, 1);

                // `none` has no WAL: the memtable holds what is not on disk yet. In the other modes the WAL has
                // it, but the next start would replay it record by record (measurably slower after a million
                // retained messages since the last flush); a flushed memtable is read back as a table.
                var flush = new FlushOptions().SetWaitForFlush(true);
                _db.Flush(flush);
            }
        }
        catch (RocksDbException ex)
        {
            Logger.LogError("Storage: final flush of {Directory} failed: {Error}", _options.DataDirectory, ex.Message);
        }
        finally
        {
            _db?.Dispose();
            _db = null;
            _dbLock.ExitWriteLock();
            DisposeInstruments();
        }
    }

    private enum OpKind : byte
    {
        PutSession,
        DeleteSession,
        PutSubscription,
        DeleteSubscription,
        PutRetained,
        DeleteRetained,
        PutQueued,
        DeleteQueued,
        PutInbound,
        DeleteInbound,
    }

    /// One queued change. Values that must be read under the caller's lock (session meta, subscription) are
    /// encoded at once; messages are immutable and are encoded by the writer.
    private sealed class Op(OpKind kind, string clientId)
    {
        public OpKind Kind { get; } = kind;

        public string ClientId { get; } = clientId;

        public long Mark { get; set; }

        public string? Name { get; init; }

        public long Number { get; init; }

        public byte[]? Value { get; init; }

        public BrokerMessage? Message { get; init; }

        public QualityOfService QoS { get; init; }

        public bool Retain { get; init; }

        public uint[] SubscriptionIds { get; init; } = [];

        public IDeliveryGroup? Group { get; init; }

        public ushort PacketId { get; init; }

        public InflightState State { get; init; }
    }

    private readonly record struct Waiter(long Mark, Action<object?> Callback, object? State);
}

/// How far a QoS 1/2 acknowledgement may run ahead of the disk.
public enum DurabilityMode
{
    /// Group commit with fsync; the broker acknowledges after it. Survives a process kill and power loss
    /// (given a disk that honours fsync).
    Sync,

    /// Written to the WAL as it comes, fsync'd every <see cref="RocksDbStoreOptions.BatchedSyncInterval"/>;
    /// acknowledged before that. A process kill loses what was acknowledged but not yet handed to RocksDB (about a
    /// millisecond's worth); power loss loses up to one interval.
    Batched,

    /// No WAL: state reaches disk when RocksDB flushes its memtable, and at a clean shutdown. A kill loses
    /// everything since the last flush.
    None,
}

public sealed class RocksDbStoreOptions
{
    public required string DataDirectory { get; init; }

    public DurabilityMode Durability { get; init; } = DurabilityMode.Sync;

    public TimeSpan BatchedSyncInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// Most operations in one WriteBatch; more queued than that are written as several batches in a row.
    public int MaxBatchOperations { get; init; } = 8192;

    /// Wait between attempts after a failed write.
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromSeconds(1);

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// The meter of the store's instruments: the broker's `Kirisame` by default. A tenant's store uses another name
    /// (docs/adr/0021-tenants.md), so that exporters do not report it under the default store's instrument names.
    public string MeterName { get; init; } = "Kirisame";
}

/// The data folder cannot be used; the message says why and what to do, for the operator.
public sealed class StoreOpenException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// Another process holds the folder (its LOCK): it may be free once that process ends.
    public bool InUse { get; init; }
}
