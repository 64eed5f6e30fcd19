using System.Buffers.Binary;
using Kirisame.Broker.Delivery;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;
using Microsoft.Extensions.Logging;
using RocksDbSharp;

namespace Kirisame.Storage.RocksDb;

/// Reading a session's queue back while the broker runs (docs/adr/0010): the broker keeps only a window of a
/// persistent session's queue in memory and asks for the next part here as the window drains.
public sealed partial class RocksDbStore
{
    /// Guards the database handle against the writer closing it (to reopen after repeated failures, or at
    /// shutdown) while a queue read uses it. The writer's own writes need no lock: only the writer replaces the handle.
    private readonly ReaderWriterLockSlim _dbLock = new();

    public bool ReadsQueues => true;

    /// Waits until everything queued so far is written (whatever the durability mode), then reads from a snapshot
    /// on the calling thread (a thread-pool thread by then).
    public async ValueTask<IReadOnlyList<QueuedMessage>> ReadQueuedAsync(string clientId, long fromSequence, int maxMessages, long maxBytes)
    {
        ArgumentNullException.ThrowIfNull(clientId);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        lock (_gate)
            ObjectDisposedException.ThrowIf(_stopping, this);
        await WrittenAsync().ConfigureAwait(false);
        return ReadQueued(clientId, fromSequence, maxMessages, maxBytes);
    }

    /// Keys of one key space (diagnostics and tests).
    internal int CountKeys(KeySpace space)
    {
        _dbLock.EnterReadLock();
        try
        {
            var db = _db ?? throw new ObjectDisposedException(nameof(RocksDbStore));
            using var iterator = db.NewIterator(readOptions: new ReadOptions().SetIterateUpperBound([(byte)(space + 1)]));
            var count = 0;
            for (iterator.Seek([(byte)space]); iterator.Valid(); iterator.Next())
                count++;
            return count;
        }
        finally
        {
            _dbLock.ExitReadLock();
        }
    }

    /// The pending entries of a queue from <paramref name="fromSequence"/> on, as <see cref="ReadQueuedAsync"/>
    /// describes, from what is in RocksDB now. A sequence below the queue's head is never read: reading starts at
    /// <paramref name="fromSequence"/>, above every entry the broker has had back already, so it seeks past them.
    internal IReadOnlyList<QueuedMessage> ReadQueued(string clientId, long fromSequence, int maxMessages, long maxBytes)
    {
        _dbLock.EnterReadLock();
        try
        {
            var db = _db ?? throw new ObjectDisposedException(nameof(RocksDbStore));
            using var snapshot = db.CreateSnapshot();
            var prefix = StorageKeys.SessionPrefix(clientId);
            var readOptions = new ReadOptions().SetSnapshot(snapshot).SetIterateUpperBound(StorageKeys.QueueEnd(prefix));
            using var iterator = db.NewIterator(readOptions: readOptions);
            var result = new List<QueuedMessage>(Math.Min(maxMessages, 1024));
            // Bodies read by this call, by id: the same message twice in one queue (rare) is one object.
            var bodies = new Dictionary<long, BrokerMessage>();
            var clock = WallClockAnchor.Now(_options.TimeProvider);
            long bytes = 0;
            for (iterator.Seek(StorageKeys.QueueEntry(prefix, Math.Max(0, fromSequence)));
                 iterator.Valid() && result.Count < maxMessages && bytes < maxBytes;
                 iterator.Next())
            {
                var key = iterator.GetKeySpan();
                var sequence = BinaryPrimitives.ReadInt64BigEndian(key[^8..]);
                var stored = StorageFormat.DecodeQueueEntry(iterator.GetValueSpan());
                if (stored.PacketId != 0)
                    continue; // in flight: the broker has it in memory
                if (!bodies.TryGetValue(stored.BodyId, out var message))
                {
                    var body = db.Get(StorageKeys.Body(stored.BodyId), readOptions: readOptions);
                    if (body is null)
                    {
                        // A corrupt folder: the entry cannot be delivered. Skipping it keeps the rest of the queue flowing.
                        Logger.LogError("Storage: queue entry {Sequence} of client {ClientId} refers to a missing message body {BodyId}; skipped",
                            sequence, clientId, stored.BodyId);
                        continue;
                    }

                    message = StorageFormat.DecodeMessage(body, clock);
                    message.StoreTag = new BodyTag(stored.BodyId, clientId, sequence);
                    bodies.Add(stored.BodyId, message);
                }

                result.Add(ToQueued(message, stored, sequence));
                bytes += message.Size;
            }

            return result;
        }
        catch (StoreFormatException ex)
        {
            throw new InvalidOperationException($"the queue of client {clientId} holds a record this build cannot read: {ex.Message}", ex);
        }
        finally
        {
            _dbLock.ExitReadLock();
        }
    }
}
