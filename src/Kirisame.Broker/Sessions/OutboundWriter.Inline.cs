namespace Kirisame.Broker.Sessions;

/// Writers of other connections that a read loop runs itself, after its batch, instead of queueing them to the
/// thread pool. A PUBLISH used to cross two thread-pool hops: the epoll thread hands the read to a worker, and that
/// worker queued each subscriber's writer as a work item of its own, which wakes another worker (the pool's
/// workers do not spin, see Kirisame.Server.csproj) — at light load the wake-ups are most of a message's latency.
/// Running the writer on the thread that is already awake saves the second hop. Only for small batches (at most
/// <see cref="SmallBatchBytes"/> read): a large one means the broker is busy, and its writers are better left to
/// the pool, where they run beside the read loops and gather what several publishers sent into one write. And at
/// most <see cref="MaxInlineWriters"/> per batch: a fan-out to many subscribers still spreads over the pool, so one
/// publisher's thread does not encode for all of them in turn. docs/adr/0012.
internal abstract partial class OutboundWriter
{
    /// How many other connections' writers one read batch runs itself; the rest go to the thread pool.
    internal const int MaxInlineWriters = 4;

    /// The largest read batch whose subscribers' writers the read loop runs itself.
    internal const int SmallBatchBytes = 4 * 1024;

    /// KIRISAME_NO_INLINE_WRITERS=1 queues every writer to the thread pool as before, so that the effect can be
    /// measured with one build (docs/adr/0012).
    private static readonly bool s_inlineWriters = Environment.GetEnvironmentVariable("KIRISAME_NO_INLINE_WRITERS") != "1";

    // This thread's read loop's share: the writers it has taken, in order. Thread-static, so no lock; made once
    // per thread.
    [ThreadStatic]
    private static OutboundWriter?[]? t_inline;

    [ThreadStatic]
    private static int t_inlineCount;

    // How many more this batch may take: MaxInlineWriters for a small batch, 0 for a large one (set by the read loop).
    [ThreadStatic]
    private static int t_inlineRoom;

    /// Called by the read loop when it starts on a batch of <paramref name="bytes"/>.
    private static void BeginBatch(long bytes) => t_inlineRoom = s_inlineWriters && bytes <= SmallBatchBytes ? MaxInlineWriters : 0;

    /// Called by <see cref="Schedule"/> with the writer already marked scheduled, on a thread whose read loop is in
    /// a batch (<see cref="t_reading"/> set): true when that loop will run this writer after its batch.
    private bool TryDeferToReadLoop()
    {
        if (t_inlineRoom == 0 || t_inlineCount == MaxInlineWriters)
            return false;
        t_inlineRoom--;
        (t_inline ??= new OutboundWriter?[MaxInlineWriters])[t_inlineCount++] = this;
        return true;
    }

    /// Runs the writers this thread's read loop took (see <see cref="TryDeferToReadLoop"/>), each taken off the list
    /// before it runs, so that whatever runs inside a writer and defers more cannot run one twice. Each writer
    /// catches what its own writing throws, so one failing does not strand the others.
    private static void RunInlineWriters()
    {
        t_inlineRoom = 0; // the batch is over: whatever this thread runs next has not begun one
        while (t_inlineCount > 0)
        {
            var writers = t_inline!;
            var writer = writers[--t_inlineCount]!;
            writers[t_inlineCount] = null;
            ((IThreadPoolWorkItem)writer).Execute();
        }
    }
}
