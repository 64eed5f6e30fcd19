namespace Kirisame.Cluster;

/// Flushing a link: a node shutting down, or relaying for a session that moved (<see cref="SessionMoves"/>), waits until
/// what each link had queued when asked has been accepted — under load a link's queue is never empty, so waiting for
/// that (<see cref="DrainAsync"/>) would not do.
internal sealed partial class PeerLink
{
    /// Batches taken for sending, and those the other node accepted: what is queued now has been accepted once the
    /// second reaches what the first will be when it has been taken.
    private long _taken;
    private long _accepted;

    /// Waits (up to <paramref name="timeout"/>) until what is queued now — route changes and messages — has been accepted
    /// by the other node, whatever is queued after it (unlike <see cref="DrainAsync"/>, which waits for an empty queue).
    public async Task FlushAsync(TimeSpan timeout)
    {
        long target;
        lock (_lock)
            target = _taken + Math.Max(_chunks.Count, _pending.IsEmpty && !_routesSnapshotDue && !_willsSnapshotDue ? 0 : 1);
        var deadline = DateTime.UtcNow + timeout;
        while (Interlocked.Read(ref _accepted) < target && DateTime.UtcNow < deadline && !IsClosed)
            await Task.Delay(10);
    }
}
