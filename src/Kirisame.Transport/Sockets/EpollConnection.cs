using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;
using Kirisame.Broker;
using Kirisame.Native;

namespace Kirisame.Transport.Sockets;

/// An accepted socket served by the <see cref="EpollEngine"/>: the file descriptor, the broker's reader
/// and writer over it, and nothing else — no Socket object, no per-operation event args, no callbacks.
/// The socket closes once the broker has completed both halves.
internal sealed class EpollConnection : EpollItem, IDuplexPipe
{
    private readonly EpollEngine _engine;
    private readonly SocketListener? _listener;
    private readonly EpollPipeReader _reader;
    private readonly EpollPipeWriter _writer;
    private int _completedHalves;
    private int _closed;
    private int _shutdown;

    public EpollConnection(int fd, EpollEngine engine, SocketListener? listener)
    {
        Fd = fd;
        _engine = engine;
        _listener = listener;
        _reader = new EpollPipeReader(this);
        _writer = new EpollPipeWriter(this);
    }

    public int Fd { get; }

    public PipeReader Input => _reader;

    public PipeWriter Output => _writer;

    public override void OnEvents(uint events, bool quiet)
    {
        const uint failure = Epoll.EpollErr | Epoll.EpollHup;
        if ((events & (Epoll.EpollRdHup | failure)) != 0)
            _reader.OnPeerClosed();
        if ((events & (Epoll.EpollIn | Epoll.EpollRdHup | failure)) != 0)
            _reader.OnReadable(quiet);
        if ((events & (Epoll.EpollOut | failure)) != 0)
            _writer.OnWritable();
    }

    internal void HalfCompleted()
    {
        if (Interlocked.Increment(ref _completedHalves) == 2)
            Close();
    }

    /// Ends both directions at once: a read or send waiting on the socket wakes up and fails.
    public void Abort()
    {
        // Under the lock that Close takes: a closed descriptor's number may already belong to another socket.
        lock (this)
        {
            if (_closed == 0 && _shutdown == 0)
            {
                _shutdown = 1;
                Epoll.Shutdown(Fd, Epoll.ShutRdWr);
            }
        }
    }

    /// Closes the socket; only once nothing reads or writes it any more (both halves completed, or never
    /// handed to the broker), so its number cannot be reused under a pending call.
    public void Close()
    {
        lock (this)
        {
            if (_closed != 0)
                return;
            _closed = 1;
            _engine.Unregister(Id);
            if (_shutdown == 0)
                Epoll.Shutdown(Fd, Epoll.ShutRdWr); // what was written goes out before the FIN
            _shutdown = 1;
            Epoll.Close(Fd);
        }

        _listener?.Closed();
    }
}

/// The receiving half of an <see cref="EpollConnection"/>: non-blocking recv into a pooled buffer; when the
/// socket has nothing, the read waits for the epoll thread's readiness event (on the thread pool).
internal sealed unsafe class EpollPipeReader(EpollConnection connection) : SocketReader, IInlineReads
{
    private volatile bool _inlineAllowed;

    // The last recv returned less than it asked for: the socket was empty then, and anything that came since
    // has raised an event (kept as Signalled if nobody waited), so the next read arms first instead of
    // trying a recv that would almost always fail. True at first: epoll reports a socket that is readable
    // when it is added.
    private bool _drained = true;

    // The peer closed its side (or the socket failed): a recv that returns less than asked may leave the
    // end of the stream behind it, for which no further event comes, so the next read must recv.
    private volatile bool _peerClosed;
    private int _readiness;

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (TryReadAtOnce(cancellationToken, out var atOnce))
            return atOnce;
        if ((!_drained || _peerClosed) && TryReceive())
            return Ended ? new(new ReadResult(Buffer.Bytes, isCanceled: false, isCompleted: true)) : Yield();

        BeginWait(Completing);
        if (Wait())
            return Pending;
        _drained = false; // readiness was signalled: receive before waiting again
        return ReadAsync(cancellationToken);
    }

    /// Arms for readiness with the read taken (Completing). True when the read now waits (or was completed
    /// by a cancellation meanwhile); false when bytes came meanwhile and the caller should try again.
    private bool Wait()
    {
        Buffer.ReleaseIfEmpty();
        Volatile.Write(ref WaitState, Waiting);
        if (Readiness.Arm(ref _readiness))
            return true;
        // Readiness came meanwhile: take the read back, unless a cancellation completed it.
        return Interlocked.CompareExchange(ref WaitState, NotWaiting, Waiting) != Waiting;
    }

    /// On the epoll thread, before <see cref="OnReadable"/>.
    public void OnPeerClosed() => _peerClosed = true;

    /// What a read handled on the epoll thread may bring: a few small packets (a sensor's reading, a PINGREQ, a
    /// handful of PUBLISHes). More goes to the pool, so that this thread, which serves every socket, stays short.
    internal const int InlineReadBytes = 4 * 1024;

    public void AllowInlineReads() => _inlineAllowed = EpollEngine.InlineReads; // off by default, see there

    /// On the epoll thread. When the broker allows it (IInlineReads) and the turn is quiet, the bytes are received
    /// here and, if they are few, the read completes here too: the broker's read loop handles them on this thread
    /// until it waits again, without waking a pool thread. Otherwise the read completes on the pool.
    public void OnReadable(bool quiet)
    {
        if (!Readiness.Signal(ref _readiness))
            return;
        if (Interlocked.CompareExchange(ref WaitState, Completing, Waiting) == Waiting)
        {
            if (quiet && _inlineAllowed)
                ReceiveHere();
            else
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
        else
            Volatile.Write(ref _readiness, Readiness.Signalled); // the read was cancelled: keep the news
    }

    /// <see cref="ResumeRead"/> on the epoll thread, for a read taken there: a small batch completes here, a large
    /// one (or the end of the stream) on the pool, with what was received.
    private void ReceiveHere()
    {
        while (true)
        {
            if (Buffer.HasUnexamined || Ended || TryReceive())
            {
                if (!Ended && Buffer.Length <= InlineReadBytes)
                    CompleteRead();
                else
                    ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
                return;
            }

            if (Wait())
                return;
            Volatile.Write(ref WaitState, Completing);
        }
    }

    /// Completes the taken read on the thread pool: with what is buffered, or after receiving more.
    protected override void ResumeRead()
    {
        while (true)
        {
            if (Buffer.HasUnexamined || Ended || TryReceive())
            {
                CompleteRead();
                return;
            }

            if (Wait())
                return;
            Volatile.Write(ref WaitState, Completing);
        }
    }

    protected override bool TryReceive()
    {
        while (true)
        {
            var space = Buffer.FreeSpace();
            nint received;
            fixed (byte* p = space)
                received = Epoll.Receive(connection.Fd, p, space.Length, Epoll.MsgDontWait);
            if (received > 0)
            {
                _drained = received < space.Length;
                Buffer.Received((int)received);
                return true;
            }

            if (received < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Epoll.EIntr)
                    continue;
                if (errno == Epoll.EAgain)
                {
                    _drained = true;
                    return false;
                }
            }

            Ended = true; // 0: the peer closed; any other error: the connection is gone
            return true;
        }
    }

    protected override void OnReadCancelled() => Readiness.Disarm(ref _readiness);

    protected override void OnReaderCompleted() => connection.HalfCompleted();
}

/// The sending half of an <see cref="EpollConnection"/>: the broker's writer encodes a batch into one
/// pooled buffer; the flush sends it at once (non-blocking) and waits for writability only when the
/// socket's send buffer is full.
internal sealed unsafe class EpollPipeWriter(EpollConnection connection) : SocketWriter, IValueTaskSource<FlushResult>, IThreadPoolWorkItem
{
    private int _sent;
    private int _writability;
    private ManualResetValueTaskSourceCore<FlushResult> _source;

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (Failed)
            return new(new FlushResult(isCanceled: false, isCompleted: true));
        _sent = 0;
        while (true)
        {
            var outcome = SendSome();
            if (outcome != SendOutcome.WouldBlock)
                return new(Finish(failed: outcome == SendOutcome.Failed));
            _source.Reset();
            Volatile.Write(ref Sending, 1);
            if (Readiness.Arm(ref _writability))
                return new(this, _source.Version);
            Volatile.Write(ref Sending, 0);
        }
    }

    private enum SendOutcome
    {
        Done,
        WouldBlock,
        Failed,
    }

    private SendOutcome SendSome()
    {
        while (_sent < Buffer.Written)
        {
            nint n;
            fixed (byte* p = &Buffer.Array![_sent])
                n = Epoll.Send(connection.Fd, p, Buffer.Written - _sent, Epoll.MsgDontWait | Epoll.MsgNoSignal);
            if (n >= 0)
            {
                _sent += (int)n;
                continue;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == Epoll.EIntr)
                continue;
            return errno == Epoll.EAgain ? SendOutcome.WouldBlock : SendOutcome.Failed;
        }

        return SendOutcome.Done;
    }

    /// On the epoll thread.
    public void OnWritable()
    {
        if (Readiness.Signal(ref _writability))
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    /// Continues a flush that waited for writability.
    void IThreadPoolWorkItem.Execute()
    {
        while (true)
        {
            var outcome = SendSome();
            if (outcome != SendOutcome.WouldBlock)
            {
                Volatile.Write(ref Sending, 0);
                _source.SetResult(Finish(failed: outcome == SendOutcome.Failed));
                return;
            }

            if (Readiness.Arm(ref _writability))
                return;
        }
    }

    /// A flush waiting on it ends (IsCanceled) once the connection is shut down.
    protected override void Abort() => connection.Abort();

    protected override void OnWriterCompleted() => connection.HalfCompleted();

    FlushResult IValueTaskSource<FlushResult>.GetResult(short token) => _source.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<FlushResult>.GetStatus(short token) => _source.GetStatus(token);

    void IValueTaskSource<FlushResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);
}
