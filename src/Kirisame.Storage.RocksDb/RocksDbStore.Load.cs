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
    /// Reads everything once, before any write, and rebuilds the writer's index (bodies and their reference
    /// counts, queue entries, queue heads). A value that does not decode stops start-up with
    /// <see cref="StoreOpenException"/>: the folder is not silently taken as empty.
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
            var bodies = new Dictionary<long, BrokerMessage>();
            LoadSessions(db, [(byte)KeySpace.Session], [(byte)KeySpace.Session + 1], state, bodies, index: true);
            LoadRetained(db, state);
            _nextBodyId = Math.Max(LastBodyId(db), bodies.Count == 0 ? 0 : bodies.Keys.Max()) + 1;
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

    /// Reads one session as start-up does, without touching the writer's state (diagnostics and tests).
    internal StoredSession? ReadSession(string clientId)
    {
        var db = _db ?? throw new ObjectDisposedException(nameof(RocksDbStore));
        var state = new StoredState();
        var (start, end) = StorageKeys.SessionRange(clientId);
        LoadSessions(db, start, end, state, [], index: false);
        return state.Sessions.SingleOrDefault();
    }

    private void LoadSessions(RocksDbSharp.RocksDb db, byte[] start, byte[] end, StoredState state, Dictionary<long, BrokerMessage> bodies, bool index)
    {
        var readOptions = new ReadOptions().SetIterateUpperBound(end);
        using var iterator = db.NewIterator(readOptions: readOptions);
        StoredSession? session = null;
        QueueIndex? queue = null;
        iterator.Seek(start);
        while (iterator.Valid())
        {
            var key = iterator.GetKeySpan();
            if (!StorageKeys.TryParseSession(key, out var clientId, out var record, out var suffix))
                throw new StoreFormatException($"malformed session key {StorageKeys.Describe(key)}");
            if (session is null || session.ClientId != clientId)
            {
                session = new StoredSession(clientId);
                state.Sessions.Add(session);
                queue = index ? Queue(clientId) : new QueueIndex(clientId);
            }

            var value = iterator.GetValueSpan();
            switch (record)
            {
                case SessionKeyKind.Meta:
                    var meta = StorageFormat.DecodeSession(value);
                    session.ExpiryInterval = meta.Expiry;
                    session.DisconnectedAtUnixMs = meta.DisconnectedAtUnixMs;
                    session.PendingWill = meta.Will;
                    session.PendingWillVersion = meta.WillVersion;
                    session.PendingWillAtUnixMs = meta.WillAtUnixMs;
                    break;
                case SessionKeyKind.Subscription:
                    var filter = Encoding.UTF8.GetString(suffix);
                    var (options, subscriptionId) = StorageFormat.DecodeSubscription(filter, value);
                    session.Subscriptions.Add((filter, options, subscriptionId));
                    break;
                case SessionKeyKind.QueueHead:
                    var head = StorageFormat.DecodeQueueHead(value);
                    queue!.PersistedHead = head;
                    queue.MaxSequence = Math.Max(queue.MaxSequence, head - 1);
                    session.LastSequence = Math.Max(session.LastSequence, head - 1);
                    // Everything below the head was deleted: seek past it rather than step over its tombstones.
                    iterator.Seek(StorageKeys.QueueEntry(queue.Prefix, head));
                    continue;
                case SessionKeyKind.QueueEntry:
                    if (suffix.Length != 8)
                        throw new StoreFormatException($"malformed queue key {StorageKeys.Describe(key)}");
                    var sequence = BinaryPrimitives.ReadInt64BigEndian(suffix);
                    LoadQueueEntry(db, session, queue!, sequence, StorageFormat.DecodeQueueEntry(value), bodies, index);
                    break;
                case SessionKeyKind.InboundQoS2:
                    if (suffix.Length != 2)
                        throw new StoreFormatException($"malformed inbound QoS 2 key {StorageKeys.Describe(key)}");
                    StorageFormat.CheckInboundQoS2(value);
                    session.InboundQoS2.Add(BinaryPrimitives.ReadUInt16BigEndian(suffix));
                    break;
                default:
                    throw new StoreFormatException($"unknown session record kind {(byte)record} in key {StorageKeys.Describe(key)}");
            }

            iterator.Next();
        }
    }

    private void LoadQueueEntry(RocksDbSharp.RocksDb db, StoredSession session, QueueIndex queue, long sequence,
        StorageFormat.QueueEntry stored, Dictionary<long, BrokerMessage> bodies, bool index)
    {
        if (!bodies.TryGetValue(stored.BodyId, out var message))
        {
            var value = db.Get(StorageKeys.Body(stored.BodyId))
                ?? throw new StoreFormatException($"queue entry {sequence} of client {session.ClientId} refers to a missing message body {stored.BodyId}");
            message = StorageFormat.DecodeMessage(value, WallClockAnchor.Now(_options.TimeProvider));
            bodies.Add(stored.BodyId, message);
            if (index)
                _bodies.Add(message, new Body(stored.BodyId, message));
        }

        if (index)
        {
            var body = _bodies[message];
            body.References++;
            queue.Entries[sequence] = new Entry { Body = body, Puts = -1 };
        }

        queue.Live.Add(sequence);
        queue.MaxSequence = Math.Max(queue.MaxSequence, sequence);
        session.LastSequence = Math.Max(session.LastSequence, sequence);
        // A shared-subscription entry names its group; the broker swaps in the live group object with that name and filter.
        var group = stored.GroupName is null ? null : new SharedGroup(stored.GroupName, stored.GroupFilter!);
        var queued = new QueuedMessage(message, stored.QoS, stored.Retain, stored.SubscriptionIds, group, sequence);
        session.Queue.Add((queued, stored.PacketId, stored.State));
    }

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
