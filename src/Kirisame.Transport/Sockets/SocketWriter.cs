using System.IO.Pipelines;

namespace Kirisame.Transport.Sockets;

/// What the two socket writers (<see cref="SocketPipeWriter"/>, <see cref="EpollPipeWriter"/>) share: the
/// batch being written (<see cref="SendBuffer"/>), the end of a flush, cancellation and completion. The
/// broker's writer encodes a batch into the buffer and the flush sends it at once, non-blocking, from the
/// writer's own thread; the writers differ in how they wait when the socket's send buffer is full.
internal abstract class SocketWriter : PipeWriter
{
    private SendBuffer _buffer;
    private bool _completed;
    private bool _failed; // a send failed: the connection is gone, later flushes report IsCompleted
    private int _cancelRequested;
    private int _sending; // a flush waits for the socket

    protected ref SendBuffer Buffer => ref _buffer;

    protected bool Failed => _failed;

    protected ref int Sending => ref _sending;

    /// Ends the connection at once, so that a send waiting on it fails.
    protected abstract void Abort();

    /// The broker completed this half.
    protected abstract void OnWriterCompleted();

    public override void Advance(int bytes) => _buffer.Advance(bytes);

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        return _buffer.GetMemory(sizeHint);
    }

    public override Span<byte> GetSpan(int sizeHint = 0)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        return _buffer.GetSpan(sizeHint);
    }

    /// The end of a flush: everything sent, or the send failed (the connection is gone; IsCanceled when the
    /// broker had given up on it, see <see cref="CancelPendingFlush"/>).
    protected FlushResult Finish(bool failed)
    {
        var cancelled = Interlocked.Exchange(ref _cancelRequested, 0) == 1;
        _buffer.Release();
        if (!failed)
            return new FlushResult(isCanceled: cancelled, isCompleted: false);
        _failed = true;
        return cancelled ? new FlushResult(isCanceled: true, isCompleted: false) : new FlushResult(isCanceled: false, isCompleted: true);
    }

    /// The broker gives up on a client that does not read: a send waiting on it is ended by aborting the
    /// connection (the flush then reports IsCanceled).
    public override void CancelPendingFlush()
    {
        Volatile.Write(ref _cancelRequested, 1);
        if (Volatile.Read(ref _sending) == 1)
            Abort();
    }

    public override void Complete(Exception? exception = null)
    {
        if (_completed)
            return;
        _completed = true;
        if (Volatile.Read(ref _sending) == 0)
            _buffer.Release();
        OnWriterCompleted();
    }
}
