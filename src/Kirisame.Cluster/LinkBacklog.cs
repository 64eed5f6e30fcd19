namespace Kirisame.Cluster;

/// The messages a <see cref="PeerLink"/> holds for the other node, counted two ways:
/// - all of them until that node accepted them (<see cref="Messages"/>, <see cref="Bytes"/>): what a QoS 0 message
///   may be dropped against, once back-pressure gave up waiting for the node (<see cref="RemoteNodeTarget"/>);
/// - those behind the next call's chunk (<see cref="Held"/>, <see cref="HeldBytes"/>): what back-pressure (docs/adr/0009)
///   holds the publishers back for. The call on its way and the chunk that fills meanwhile do not count — one call at a
///   time per link, and one call must carry what gathers during a round trip. Counting them, as before, held the
///   publishers at Broker:BackPressureThreshold (1,000) messages a link: calls of about 500 messages (60 KB), 500 a
///   second, and the publishers waiting out every round trip (orleans-messaging counters, docs/adr/0020). Bounded still:
///   two chunks of PeerLink.ChunkBytes, and the threshold behind them.
internal sealed class LinkBacklog
{
    private int _messages;
    private long _bytes;
    private int _held;
    private long _heldBytes;

    public int Messages => Volatile.Read(ref _messages);

    public long Bytes => Interlocked.Read(ref _bytes);

    public int Held => Volatile.Read(ref _held);

    public long HeldBytes => Interlocked.Read(ref _heldBytes);

    /// A message of <paramref name="bytes"/> queued; <paramref name="behind"/> when its chunk is not the next call's.
    public void Queued(int bytes, bool behind)
    {
        Interlocked.Increment(ref _messages);
        Interlocked.Add(ref _bytes, bytes);
        if (!behind)
            return;
        Interlocked.Increment(ref _held);
        Interlocked.Add(ref _heldBytes, bytes);
    }

    /// A chunk became the next call's: its messages hold nobody back any more.
    public void MovedUp(int count, int bytes)
    {
        Interlocked.Add(ref _held, -count);
        Interlocked.Add(ref _heldBytes, -bytes);
    }

    /// A call's chunk was accepted, or given up.
    public void Sent(int count, int bytes)
    {
        Interlocked.Add(ref _messages, -count);
        Interlocked.Add(ref _bytes, -bytes);
    }
}
