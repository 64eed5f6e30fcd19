using System.Buffers.Binary;
using System.Text;
using Kirisame.Broker.Delivery;
using Kirisame.Broker.Routing;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;
using RocksDbSharp;

namespace Kirisame.Storage.RocksDb;

public sealed partial class RocksDbStore
{
    /// Reads the store once, before any write, and rebuilds the writer's index (bodies and their reference counts,
    /// queue entries, queue heads). Of a session's queue only the entries in flight are loaded; the pending ones are
    /// counted (<see cref="StoredSession.StoredPendingCount"/>) and stay on disk until <see cref="ReadQueuedAsync"/>
    /// reads them for their client, so start-up neither reads nor holds the messages of deep offline queues. A value
    /// that does not decode stops start-up with <see cref="StoreOpenException"/>: the folder is not silently taken as
    /// empty.
    public StoredState Load()
    {
        lock (_gate)
        {
            if (_loaded || _mark != 0)
                throw new InvalidOperationException("Load is called once, before anything is written.");
            _loaded = true;
        }

        var db = _db ?? throw new ObjectDisposedException(nameof(RocksDbStore));
        var directory = Path.GetFullPath(_options.DataDirectory);
        try
        {
            var state = new StoredState();
            var referenced = new List<long>();
            LoadSessions(db, [(byte)KeySpace.Session], [(byte)KeySpace.Session + 1], state, LoadMode.Startup, referenced);
            CountSharedBodies(referenced);
            LoadRetained(db, state);
            _nextBodyId = Math.Max(LastBodyId(db), referenced.Count == 0 ? 0 : referenced[^1]) + 1;
            return state;
        }
        catch (StoreFormatException ex)
        {
            throw new StoreOpenException($"data folder {directory} holds a record this build cannot read ({ex.Message}); it is corrupt or was written by another program. Refusing to start with it.", ex);
        }
        catch (RocksDbException ex)
        {
            throw Explain(ex, directory);
        }
    }

    /// Reads one session with every queue entry and its message, without touching the writer's state (diagnostics
    /// and tests).
    internal StoredSession? ReadSession(string clientId)
    {
        var db = _db ?? throw new ObjectDisposedException(nameof(RocksDbStore));
        var state = new StoredState();
        var (start, end) = StorageKeys.SessionRange(clientId);
        LoadSessions(db, start, end, state, LoadMode.Everything, referenced: null);
        return state.Sessions.SingleOrDefault();
    }

    private enum LoadMode
    {
        /// Start-up: index everything, load the messages of in-flight entries, count the pending ones.
        Startup,

        /// Load every entry with its message; leave the index alone.
        Everything,
    }

    /// Bodies referred to by more than one entry are counted in the shared table; the others have one entry each.
    /// Counted by sorting the ids every entry refers to (8 bytes each, for the time of the count), not in a table
    /// of every body.
    private void CountSharedBodies(List<long> referenced)
    {
        referenced.Sort();
        for (var i = 0; i < referenced.Count;)
        {
            var run = 1;
            while (i + run < referenced.Count && referenced[i + run] == referenced[i])
                run++;
            if (run > 1)
                _sharedBodies[referenced[i]] = run;
            i += run;
        }
    }

    private void LoadSessions(RocksDbSharp.RocksDb db, byte[] start, byte[] end, StoredState state, LoadMode mode, List<long>? referenced)
    {
        var readOptions = new ReadOptions().SetIterateUpperBound(end);
        using var iterator = db.NewIterator(readOptions: readOptions);
        var bodies = new Dictionary<long, BrokerMessage>();
        var clock = WallClockAnchor.Now(_options.TimeProvider);
        StoredSession? session = null;
        QueueIndex? queue = null;
        iterator.Seek(start);
        while (iterator.Valid())
        {
            var key = iterator.GetKeySpan();
            SessionKeyKind record;
            ReadOnlySpan<byte> suffix;
            if (queue is not null && key.Length > queue.Prefix.Length && key.StartsWith(queue.Prefix))
            {
                // Another record of the same session (most are queue entries): no need to read its client id again.
                record = (SessionKeyKind)key[queue.Prefix.Length];
                suffix = key[(queue.Prefix.Length + 1)..];
            }
            else
            {
                if (!StorageKeys.TryParseSession(key, out var clientId, out record, out suffix))
                    throw new StoreFormatException($"malformed session key {StorageKeys.Describe(key)}");
                session = new StoredSession(clientId);
                state.Sessions.Add(session);
                queue = mode == LoadMode.Startup ? Queue(clientId) : new QueueIndex(clientId);
            }

            var current = session!; // made together with queue
            var value = iterator.GetValueSpan();
            switch (record)
            {
                case SessionKeyKind.Meta:
                    var meta = StorageFormat.DecodeSession(value);
                    current.ExpiryInterval = meta.Expiry;
                    current.DisconnectedAtUnixMs = meta.DisconnectedAtUnixMs;
                    current.PendingWill = meta.Will;
                    current.PendingWillVersion = meta.WillVersion;
                    current.PendingWillAtUnixMs = meta.WillAtUnixMs;
                    break;
                case SessionKeyKind.Subscription:
                    var filter = Encoding.UTF8.GetString(suffix);
                    var (options, subscriptionId) = StorageFormat.DecodeSubscription(filter, value);
                    current.Subscriptions.Add((filter, options, subscriptionId));
                    break;
                case SessionKeyKind.QueueHead:
                    var head = StorageFormat.DecodeQueueHead(value);
                    queue.PersistedHead = head;
                    queue.MaxSequence = Math.Max(queue.MaxSequence, head - 1);
                    current.LastSequence = Math.Max(current.LastSequence, head - 1);
                    // Everything below the head was deleted: seek past it rather than step over its tombstones.
                    iterator.Seek(StorageKeys.QueueEntry(queue.Prefix, head));
                    continue;
                case SessionKeyKind.QueueEntry:
                    if (suffix.Length != 8)
                        throw new StoreFormatException($"malformed queue key {StorageKeys.Describe(key)}");
                    var sequence = BinaryPrimitives.ReadInt64BigEndian(suffix);
                    if (mode == LoadMode.Startup)
                        IndexQueueEntry(db, current, queue, sequence, value, bodies, clock, referenced!);
                    else
                        LoadQueueEntry(db, current, queue, sequence, StorageFormat.DecodeQueueEntry(value), bodies, clock);
                    break;
                case SessionKeyKind.InboundQoS2:
                    if (suffix.Length != 2)
                        throw new StoreFormatException($"malformed inbound QoS 2 key {StorageKeys.Describe(key)}");
                    StorageFormat.CheckInboundQoS2(value);
                    current.InboundQoS2.Add(BinaryPrimitives.ReadUInt16BigEndian(suffix));
                    break;
                default:
                    throw new StoreFormatException($"unknown session record kind {(byte)record} in key {StorageKeys.Describe(key)}");
            }

            iterator.Next();
        }
    }

    /// Start-up: every entry goes into the writer's index; an entry in flight is loaded with its message (the broker
    /// holds those), a pending one is only counted: it stays on disk until its client wants it.
    private void IndexQueueEntry(RocksDbSharp.RocksDb db, StoredSession session, QueueIndex queue, long sequence, ReadOnlySpan<byte> value,
        Dictionary<long, BrokerMessage> bodies, in WallClockAnchor clock, List<long> referenced)
    {
        var (bodyId, packetId, size) = StorageFormat.DecodeQueueEntryHead(value);
        // Loaded entries were written an unknown number of times: removed with Delete, not SingleDelete.
        queue.Entries.Add(sequence, bodyId | Rewritten);
        referenced.Add(bodyId);
        queue.MaxSequence = Math.Max(queue.MaxSequence, sequence);
        session.LastSequence = Math.Max(session.LastSequence, sequence);
        if (packetId != 0)
        {
            LoadQueueEntry(db, session, queue, sequence, StorageFormat.DecodeQueueEntry(value), bodies, clock);
            return;
        }

        // A version 1 entry does not record its message's size; its body does.
        if (size < 0)
            size = StorageFormat.MessageSize(ReadBody(db, session.ClientId, sequence, bodyId, readOptions: null));
        if (session.StoredPendingCount == 0)
            session.StoredPendingFrom = sequence;
        session.StoredPendingCount++;
        session.StoredPendingBytes += size;
    }

    private static void LoadQueueEntry(RocksDbSharp.RocksDb db, StoredSession session, QueueIndex queue, long sequence,
        StorageFormat.QueueEntry stored, Dictionary<long, BrokerMessage> bodies, in WallClockAnchor clock)
    {
        queue.MaxSequence = Math.Max(queue.MaxSequence, sequence);
        session.LastSequence = Math.Max(session.LastSequence, sequence);
        if (!bodies.TryGetValue(stored.BodyId, out var message))
        {
            message = StorageFormat.DecodeMessage(ReadBody(db, session.ClientId, sequence, stored.BodyId, readOptions: null), clock);
            message.StoreTag = new BodyTag(stored.BodyId, session.ClientId, sequence);
            bodies.Add(stored.BodyId, message);
        }

        session.Queue.Add((ToQueued(message, stored, sequence), stored.PacketId, stored.State));
    }

    private static byte[] ReadBody(RocksDbSharp.RocksDb db, string clientId, long sequence, long bodyId, ReadOptions? readOptions) =>
        db.Get(StorageKeys.Body(bodyId), readOptions: readOptions)
        ?? throw new StoreFormatException($"queue entry {sequence} of client {clientId} refers to a missing message body {bodyId}");

    /// A shared-subscription entry names its group; the broker swaps in the live group object with that name and filter.
    private static QueuedMessage ToQueued(BrokerMessage message, in StorageFormat.QueueEntry stored, long sequence) =>
        new(message, stored.QoS, stored.Retain, stored.SubscriptionIds,
            stored.GroupName is null ? null : new SharedGroup(stored.GroupName, stored.GroupFilter!), sequence);

    private void LoadRetained(RocksDbSharp.RocksDb db, StoredState state)
    {
        var readOptions = new ReadOptions().SetIterateUpperBound([(byte)KeySpace.Retained + 1]);
        using var iterator = db.NewIterator(readOptions: readOptions);
        var clock = WallClockAnchor.Now(_options.TimeProvider);
        for (iterator.Seek([(byte)KeySpace.Retained]); iterator.Valid(); iterator.Next())
            state.Retained.Add(StorageFormat.DecodeMessage(iterator.Value(), clock));
    }

    /// The highest body id on disk, so new ids never reuse one that is still there.
    private static long LastBodyId(RocksDbSharp.RocksDb db)
    {
        var readOptions = new ReadOptions().SetIterateLowerBound([(byte)KeySpace.Body]);
        using var iterator = db.NewIterator(readOptions: readOptions);
        iterator.SeekForPrev([(byte)KeySpace.Body, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        if (!iterator.Valid())
            return 0;
        var key = iterator.GetKeySpan();
        return key.Length == 9 && key[0] == (byte)KeySpace.Body ? BinaryPrimitives.ReadInt64BigEndian(key[1..]) : 0;
    }
}
