using Kirisame.Broker.Delivery;
using Kirisame.Broker.Sessions;
using Microsoft.Extensions.Logging;

namespace Kirisame.Broker;

/// A session's pending queue: where its messages wait, the limits that apply to it, and reading back the part that
/// only the store has (docs/adr/0010-offline-queues-on-disk.md).
///
/// When the store reads queues back, a session the store holds keeps only a window of its queue in memory — none
/// while its client is away — and the rest only in the store, where its journal wrote every message anyway. As the
/// window drains the next part is read back, one read at a time, in sequence order, so messages still leave in the
/// order they were queued [MQTT-4.6.0-6]. Memory then does not grow with the depth of a queue, and its limits are
/// sized for disk (Broker:MaxPersistentQueuedMessages / MaxPersistentQueuedBytes).
public sealed partial class MqttBroker
{
    /// Whether the store keeps this session's queue, so that only a window of it is in memory: a session the store
    /// holds, on a store that reads queues back (not the in-memory one, which keeps nothing).
    internal bool QueueInStore(Session session) => session.InStore && Store.ReadsQueues;

    /// The queue limits of a session, applied when its consumer is offline or slow: sized for disk when its queue is
    /// in the store, for memory otherwise.
    internal (int Messages, long Bytes) QueueLimits(Session session) => QueueInStore(session)
        ? (Options.MaxPersistentQueuedMessages, Options.MaxPersistentQueuedBytes)
        : (Options.MaxQueuedMessages, Options.MaxQueuedBytes);

    /// Adds a message to the session's pending queue and has the journal write it. It goes to the window unless the
    /// session's queue is in the store and its client is away, or the window is full, or part of the queue is in the
    /// store already (it must come after that part): then it is only in the store. Caller holds session.Sync.
    private void EnqueueLocked(Session session, in QueuedMessage queued)
    {
        var pending = session.Pending;
        if (QueueInStore(session) && (session.Target is null || pending.StoredCount > 0
            || pending.WindowCount >= Options.QueueWindowMessages || pending.WindowBytes + queued.Message.Size > Options.QueueWindowBytes))
        {
            pending.Store(queued);
        }
        else
        {
            pending.Enqueue(queued);
        }

        session.Journal.Queued(queued);
    }

    /// Over its limits, a session whose consumer is offline or slow loses its oldest messages — they would be the first
    /// to go stale [issue 3] — each counted, the episode logged. The oldest are in the window; when the window is empty
    /// they are only in the store and are read back to be dropped, so the queue stays over its limit until that read
    /// lands. Returns whether anything was dropped. Caller holds session.Sync.
    private bool TrimLocked(Session session)
    {
        if (session.PendingOrNull is not { } pending)
            return false;
        var (messages, bytes) = QueueLimits(session);
        var dropped = false;
        while ((pending.Count > messages || (pending.Bytes > bytes && pending.Count > 1)) && BackPressure.MayDrop(session))
        {
            if (!pending.TryDequeue(out var oldest))
            {
                RefillLocked(session);
                break;
            }

            session.Journal.Removed(oldest);
            DroppedLocked(session, $"it is {(session.Target is null ? "offline" : "not keeping up")} and its queue is at its limit of {messages} messages or {bytes} bytes");
            dropped = true;
        }

        return dropped;
    }

    /// Starts reading the next part of a stored queue into the window when it is wanted: the client is there and the
    /// window has drained to half, or the queue is over its limits with an empty window (its oldest must go). At most
    /// one read per queue is on its way. Caller holds session.Sync.
    private void RefillLocked(Session session)
    {
        if (session.PendingOrNull is not { StoredCount: > 0, Refilling: false } pending || !QueueInStore(session))
            return;
        var wanted = session.Target is not null
            ? pending.WindowCount <= Options.QueueWindowMessages / 2 && pending.WindowBytes <= Options.QueueWindowBytes / 2
            : pending.WindowCount == 0 && IsOverLimits(session, pending);
        if (!wanted)
            return;
        pending.Refilling = true;
        var read = new StoreRead(this, session, pending, pending.Generation, pending.StoredFrom, session.LastSequence, pending.StoredTotal, pending.StoredTotalBytes,
            Math.Max(1, Options.QueueWindowMessages - pending.WindowCount), Math.Max(1, Options.QueueWindowBytes - pending.WindowBytes));
        // Off the session's lock and off the caller's thread: a store read may wait for the disk.
        ThreadPool.UnsafeQueueUserWorkItem(static read => _ = read.Broker.ReadBackAsync(read), read, preferLocal: false);
    }

    private bool IsOverLimits(Session session, PendingQueue pending)
    {
        var (messages, bytes) = QueueLimits(session);
        return pending.Count > messages || pending.Bytes > bytes;
    }

    /// The client of a session whose queue is in the store went away: its window is given up (every message in it is
    /// in the store), so that an offline session holds none of its queue in memory. Caller holds session.Sync.
    private void EvictLocked(Session session)
    {
        if (session.Owner is null && QueueInStore(session))
            session.PendingOrNull?.Evict();
    }

    /// Reads what <paramref name="read"/> asks for and appends it to the window, unless the window was given up (or
    /// the session discarded) meanwhile; then trims and pumps as an arriving message would.
    private async Task ReadBackAsync(StoreRead read)
    {
        var session = read.Session;
        IReadOnlyList<QueuedMessage> batch;
        try
        {
            batch = await Store.ReadQueuedAsync(session.ClientId, read.From, read.MaxMessages, read.MaxBytes).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The messages stay in the store; try again in a second (unless the broker is stopping and the store with it).
            if (!IsStopping && LogThrottle.Allow("queue read failed", null))
                _logger.LogWarning(ex, "Reading the queue of client {ClientId} from the store failed; trying again in a second", Protocol.Primitives.MqttText.Quote(session.ClientId));
            if (!IsStopping)
                await Task.Delay(TimeSpan.FromSeconds(1), TimeProvider).ConfigureAwait(false);
            lock (session.Sync)
            {
                read.Pending.Refilling = false;
                if (!IsStopping)
                    RefillLocked(session);
            }

            return;
        }

        IDeliveryTarget? overflowed = null;
        lock (session.Sync)
        {
            var pending = read.Pending;
            pending.Refilling = false;
            if (session.PendingOrNull != pending || pending.Generation != read.Generation)
            {
                RefillLocked(session); // the current window, if any, may want a read of its own
                return;
            }

            long bytes = 0, newerBytes = 0;
            var newer = 0;
            foreach (var entry in batch)
            {
                if (entry.Sequence < pending.StoredFrom)
                    continue;
                // The store knows a shared group only by name and filter; use the live one from the tree.
                var queued = entry.Group is { } group
                    ? entry with { Group = Subscriptions.FindSharedGroup(group.Name, group.TopicFilter) ?? group }
                    : entry;
                queued.Message.Pin();
                pending.Loaded(queued);
                var size = queued.Message.Size;
                bytes += size;
                if (queued.Sequence > read.LastSequence)
                {
                    newer++;
                    newerBytes += size;
                }
            }

            if (batch.Count < read.MaxMessages && bytes < read.MaxBytes)
            {
                // The store had nothing more: what is still only there is what was stored after the read began and
                // is not in what it returned.
                pending.Settle((int)(pending.StoredTotal - read.StoredTotal - newer), pending.StoredTotalBytes - read.StoredTotalBytes - newerBytes);
            }

            var dropped = TrimLocked(session);
            if (session.Target is { } target)
            {
                PumpLocked(session, target);
                if (dropped)
                    overflowed = target;
            }
            else
            {
                RefillLocked(session);
            }
        }

        if (overflowed is not null)
            QueueOverflowed(overflowed, session);
        BackPressure.Drained(session);
    }

    /// One read of a stored queue: where it starts, how much it may bring, and what the queue looked like when it
    /// began (to append it only to the same window, and to settle the stored count if it reaches the end).
    private sealed record StoreRead(MqttBroker Broker, Session Session, PendingQueue Pending, int Generation, long From, long LastSequence,
        long StoredTotal, long StoredTotalBytes, int MaxMessages, long MaxBytes);
}
