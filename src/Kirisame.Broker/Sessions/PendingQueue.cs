using Kirisame.Broker.Delivery;
namespace Kirisame.Broker.Sessions;

/// A session's QoS 1/2 messages waiting for room in its in-flight window or for its client to come back, oldest
/// first. Every message is either in the <b>window</b> (in memory) or <b>stored</b> (only in the store, which the
/// session's journal wrote it to): the stored ones are all newer than those in the window, so the queue's order is
/// the window's order followed by the store's sequence order. Only a session whose queue the store keeps
/// (docs/adr/0010) has stored messages; for the others the window is the whole queue.
///
/// Memory does not grow with the stored part: it is three numbers (how many, their bytes, the lowest sequence).
/// Caller holds <see cref="Session.Sync"/>, except for the racy reads documented as such.
internal sealed class PendingQueue
{
    private Queue<QueuedMessage> _window = new();

    /// Messages waiting, in memory and in the store. Read without the lock by back-pressure (an estimate).
    public int Count => _window.Count + StoredCount;

    /// Bytes (<see cref="Delivery.BrokerMessage.Size"/>) of <see cref="Count"/>; likewise readable without the lock.
    public long Bytes => WindowBytes + StoredBytes;

    public int WindowCount => _window.Count;

    public long WindowBytes { get; private set; }

    /// Messages only in the store: the pending entries with a sequence of <see cref="StoredFrom"/> or more.
    public int StoredCount { get; private set; }

    public long StoredBytes { get; private set; }

    /// Where reading the stored part back begins: no stored message has a lower sequence.
    public long StoredFrom { get; private set; }

    /// Messages (and bytes) ever stored past the window, and the sequence of the last: a read of the store that
    /// reached the end of the queue settles <see cref="StoredCount"/> with them (<see cref="Settle"/>).
    public long StoredTotal { get; private set; }

    public long StoredTotalBytes { get; private set; }

    public long LastStoredSequence { get; private set; }

    /// A read of the store for this queue is on its way: at most one at a time, so reads land in order.
    public bool Refilling { get; set; }

    /// Changes when the window is given up (<see cref="Evict"/>): a read begun before must not be appended after.
    public int Generation { get; private set; }

    /// The window, oldest first.
    public IEnumerable<QueuedMessage> Window => _window;

    /// Appends to the window.
    public void Enqueue(in QueuedMessage queued)
    {
        _window.Enqueue(queued);
        WindowBytes += queued.Message.Size;
    }

    /// Appends to the stored part: the message is only in the store from now on.
    public void Store(in QueuedMessage queued)
    {
        var size = queued.Message.Size;
        if (StoredCount == 0)
            StoredFrom = queued.Sequence;
        StoredCount++;
        StoredBytes += size;
        StoredTotal++;
        StoredTotalBytes += size;
        LastStoredSequence = queued.Sequence;
    }

    /// Takes the oldest message in the window.
    public bool TryDequeue(out QueuedMessage queued)
    {
        if (!_window.TryDequeue(out queued))
            return false;
        WindowBytes -= queued.Message.Size;
        return true;
    }

    /// A message read back from the store (in sequence order, from <see cref="StoredFrom"/>): it moves to the window.
    public void Loaded(in QueuedMessage queued)
    {
        var size = queued.Message.Size;
        _window.Enqueue(queued);
        WindowBytes += size;
        StoredCount = Math.Max(0, StoredCount - 1);
        StoredBytes = Math.Max(0, StoredBytes - size);
        StoredFrom = queued.Sequence + 1;
    }

    /// A read found the end of the queue in the store: what is still stored is exactly what was stored after the
    /// read began and not in what it returned (<paramref name="stillStored"/>, <paramref name="stillStoredBytes"/>).
    /// Corrects any count that went astray, so that a queue never waits for messages the store does not have.
    public void Settle(int stillStored, long stillStoredBytes)
    {
        StoredCount = Math.Max(0, stillStored);
        StoredBytes = StoredCount == 0 ? 0 : Math.Max(0, stillStoredBytes);
    }

    /// Gives up the window (its client went away): every message in it is in the store already, so from now on it is
    /// counted as stored and read back when wanted. A read begun before no longer applies.
    public void Evict()
    {
        Generation++;
        if (_window.Count == 0)
            return;
        StoredFrom = _window.Peek().Sequence;
        StoredCount += _window.Count;
        StoredBytes += WindowBytes;
        _window = new Queue<QueuedMessage>(); // lets the array of a large window go, not just its entries
        WindowBytes = 0;
    }

    /// Start-up: the store kept <paramref name="count"/> pending messages of this session without loading them.
    public void Restored(int count, long bytes, long from)
    {
        StoredCount = count;
        StoredBytes = bytes;
        StoredFrom = from;
    }

    /// Removes the window's messages that <paramref name="leave"/> selects, in order, into <paramref name="removed"/>.
    public void RemoveFromWindow(Func<QueuedMessage, bool> leave, ref List<QueuedMessage>? removed)
    {
        if (_window.Count == 0)
            return;
        var keep = new Queue<QueuedMessage>(_window.Count);
        foreach (var queued in _window)
        {
            if (leave(queued))
            {
                (removed ??= []).Add(queued);
                WindowBytes -= queued.Message.Size;
            }
            else
            {
                keep.Enqueue(queued);
            }
        }

        _window = keep;
    }
}
