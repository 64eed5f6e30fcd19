using System.IO.Pipelines;
using System.Threading.Tasks.Sources;

namespace Kirisame.Transport.Sockets;

/// What the two socket readers (<see cref="SocketPipeReader"/>, <see cref="EpollPipeReader"/>) share: the
/// received bytes (<see cref="ReceiveBuffer"/>), the read that waits (completed through this object, an
/// <see cref="IValueTaskSource{TResult}"/>, so reading allocates nothing), cancellation and completion. They
/// differ only in how they receive and how they wait for the socket to become readable.
internal abstract class SocketReader : PipeReader, IValueTaskSource<ReadResult>, IThreadPoolWorkItem
{
    protected const int NotWaiting = 0;
    protected const int Waiting = 1; // a read awaits the source; readiness will complete it
    protected const int Completing = 2; // taken (by readiness, or by a yield): ResumeRead completes it

    private ReceiveBuffer _buffer;
    private bool _completed;
    private int _cancelRequested;
    private int _waiting;
    // Continuations run inline, on the completing thread. The source carries only whether the read was cancelled:
    // GetResult builds the ReadResult from the buffer, which nothing changes between completion and GetResult (the
    // one consumer is waiting for it). A source of ReadResult would carry 32 bytes more on every idle connection.
    private ManualResetValueTaskSourceCore<bool> _source;

    protected ref ReceiveBuffer Buffer => ref _buffer;

    /// The peer closed, or the socket failed: nothing more will come.
    protected bool Ended { get; set; }

    protected ref int WaitState => ref _waiting;

    protected ValueTask<ReadResult> Pending => new(this, _source.Version);

    /// One non-blocking receive into the buffer's free space. True when bytes arrived or the connection
    /// ended (<see cref="Ended"/>); false when the socket has nothing now.
    protected abstract bool TryReceive();

    /// The broker completed this half.
    protected abstract void OnReaderCompleted();

    /// A waiting read was cancelled: withdraw whatever would have woken it.
    protected virtual void OnReadCancelled()
    {
    }

    /// Completes the read that was taken (<see cref="Completing"/>); runs on the thread pool.
    protected virtual void ResumeRead() => CompleteRead();

    /// The start of every ReadAsync: a pending cancellation, or bytes not yet looked at, answer at once.
    protected bool TryReadAtOnce(CancellationToken cancellationToken, out ValueTask<ReadResult> result)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        cancellationToken.ThrowIfCancellationRequested();
        if (Interlocked.Exchange(ref _cancelRequested, 0) == 1)
        {
            result = new(new ReadResult(_buffer.Bytes, isCanceled: true, isCompleted: false));
            return true;
        }

        if (_buffer.HasUnexamined || Ended)
        {
            result = new(new ReadResult(_buffer.Bytes, isCanceled: false, isCompleted: Ended));
            return true;
        }

        result = default;
        return false;
    }

    /// Bytes were waiting: let the rest of the thread pool's queue run first (the writers that deliver what
    /// this client publishes), then complete the read there. Without it a client that sends without pause
    /// would keep a thread to itself (receive livelock).
    protected ValueTask<ReadResult> Yield()
    {
        BeginWait(Completing);
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        return Pending;
    }

    /// Readies the source for a read that will complete later, in state <paramref name="state"/>.
    protected void BeginWait(int state)
    {
        _source.Reset();
        Volatile.Write(ref _waiting, state);
    }

    /// Completes the taken read with what is buffered.
    protected void CompleteRead()
    {
        var cancelled = Interlocked.Exchange(ref _cancelRequested, 0) == 1;
        Volatile.Write(ref _waiting, NotWaiting);
        _source.SetResult(cancelled);
    }

    void IThreadPoolWorkItem.Execute() => ResumeRead();

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => _buffer.AdvanceTo(consumed, examined);

    public override bool TryRead(out ReadResult result)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        if (Interlocked.Exchange(ref _cancelRequested, 0) == 1)
        {
            result = new ReadResult(_buffer.Bytes, isCanceled: true, isCompleted: false);
            return true;
        }

        if (_buffer.HasUnexamined || Ended || TryReceive())
        {
            result = new ReadResult(_buffer.Bytes, isCanceled: false, isCompleted: Ended);
            return true;
        }

        result = default;
        return false;
    }

    /// Ends a pending read with IsCanceled (or the next one, if none is pending). The waiting read
    /// completes on the thread pool, never inline in the caller, which may hold a lock.
    public override void CancelPendingRead()
    {
        Volatile.Write(ref _cancelRequested, 1);
        if (Interlocked.CompareExchange(ref _waiting, NotWaiting, Waiting) != Waiting)
            return;
        OnReadCancelled();
        Interlocked.Exchange(ref _cancelRequested, 0);
        ThreadPool.UnsafeQueueUserWorkItem(static reader => reader._source.SetResult(true), this, preferLocal: false);
    }

    public override void Complete(Exception? exception = null)
    {
        if (_completed)
            return;
        _completed = true;
        if (Volatile.Read(ref _waiting) == NotWaiting)
            _buffer.Release();
        OnReaderCompleted();
    }

    ReadResult IValueTaskSource<ReadResult>.GetResult(short token)
    {
        var cancelled = _source.GetResult(token);
        return new ReadResult(_buffer.Bytes, cancelled, isCompleted: Ended && !cancelled);
    }

    ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token) => _source.GetStatus(token);

    void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);
}
