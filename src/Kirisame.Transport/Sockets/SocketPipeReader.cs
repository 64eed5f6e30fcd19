using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace Kirisame.Transport.Sockets;

// Each zero-byte receive's ValueTask is consumed exactly once: in Observe, either at once (completed) or
// from OnReadable after its completion callback.
#pragma warning disable CA2012

/// The receiving half of a <see cref="SocketPipe"/>: the broker's read loop reads the socket through it
/// directly, with no pipe and no receive loop in between. Bytes land in one pooled buffer, which goes back
/// to the pool whenever everything in it has been consumed and the socket has nothing more, so an idle
/// connection holds no buffer: it waits with a zero-byte receive. A read that cannot complete at once
/// completes through this object (an <see cref="IValueTaskSource{TResult}"/>), so reading allocates nothing.
internal sealed class SocketPipeReader : PipeReader, IValueTaskSource<ReadResult>, IThreadPoolWorkItem
{
    /// Reads that may complete at once in a row before one goes round the thread pool. A client that sends
    /// without pause always has bytes waiting; without this its read loop would keep a thread to itself,
    /// and the writers that deliver what it publishes would wait behind it (receive livelock).
    private const int SynchronousReadsBeforeYield = 1;

    private const int NotWaiting = 0;
    private const int Waiting = 1; // a read awaits the source; the socket's readiness callback will complete it
    private const int Completing = 2; // the readiness callback has taken the waiting read and is completing it

    private readonly Socket _socket;
    private ReceiveBuffer _buffer;
    private bool _ended; // the peer closed, or the socket failed: nothing more will come
    private bool _completed;
    private int _cancelRequested;

    private ManualResetValueTaskSourceCore<ReadResult> _source; // continuations run inline: see OnReadable
    private int _waiting;
    private int _receiveOutstanding; // a zero-byte receive is in flight with OnReadable attached
    private ValueTask<int> _pendingReceive;
    private Action? _onReadable;
    private int _synchronousReads;

    private readonly SocketPipe _pipe;

    public SocketPipeReader(Socket socket, SocketPipe pipe)
    {
        _socket = socket;
        _pipe = pipe;
    }

    private bool HasUnexamined => _buffer.HasUnexamined;

    private ReadOnlySequence<byte> Buffered => _buffer.Bytes;

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        cancellationToken.ThrowIfCancellationRequested();
        if (Interlocked.Exchange(ref _cancelRequested, 0) == 1)
            return new(new ReadResult(Buffered, isCanceled: true, isCompleted: false));
        if (HasUnexamined)
            return new(new ReadResult(Buffered, isCanceled: false, isCompleted: _ended));
        while (true)
        {
            if (_ended || TryReceive())
            {
                if (++_synchronousReads < SynchronousReadsBeforeYield || _ended)
                    return new(new ReadResult(Buffered, isCanceled: false, isCompleted: _ended));
                // Let the rest of the thread pool's queue run first; Execute completes this read.
                _synchronousReads = 0;
                _source.Reset();
                Volatile.Write(ref _waiting, Completing);
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
                return new(this, _source.Version);
            }

            _synchronousReads = 0;
            _buffer.ReleaseIfEmpty();

            if (Volatile.Read(ref _receiveOutstanding) == 1)
            {
                // A zero-byte receive from a read that was cancelled is still in flight: wait for it rather
                // than start a second one. If its callback ran before we registered, go round.
                _source.Reset();
                Volatile.Write(ref _waiting, Waiting);
                if (Volatile.Read(ref _receiveOutstanding) == 1 || Interlocked.CompareExchange(ref _waiting, NotWaiting, Waiting) != Waiting)
                    return new(this, _source.Version);
                continue;
            }

            ValueTask<int> wait;
            try
            {
                wait = _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, CancellationToken.None);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                _ended = true;
                continue;
            }

            if (wait.IsCompleted)
            {
                Observe(wait);
                continue;
            }

            _source.Reset();
            _pendingReceive = wait;
            Volatile.Write(ref _receiveOutstanding, 1);
            Volatile.Write(ref _waiting, Waiting);
            wait.GetAwaiter().UnsafeOnCompleted(_onReadable ??= OnReadable);
            return new(this, _source.Version);
        }
    }

    /// The socket became readable (or failed). Runs on a thread-pool thread; the broker's read loop then
    /// continues inline here, which saves a hop per read.
    private void OnReadable()
    {
        while (true)
        {
            var wait = _pendingReceive;
            _pendingReceive = default;
            Observe(wait);
            Volatile.Write(ref _receiveOutstanding, 0);
            if (Interlocked.CompareExchange(ref _waiting, Completing, Waiting) != Waiting)
                return; // the read was cancelled meanwhile; the bytes wait for the next one

            if (!_ended && !TryReceive())
            {
                // Woken without bytes after all: wait again.
                _buffer.ReleaseIfEmpty();
                try
                {
                    wait = _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, CancellationToken.None);
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    _ended = true;
                    Complete();
                    return;
                }

                _pendingReceive = wait;
                Volatile.Write(ref _receiveOutstanding, 1);
                Volatile.Write(ref _waiting, Waiting);
                if (wait.IsCompleted)
                {
                    if (Interlocked.CompareExchange(ref _waiting, Completing, Waiting) != Waiting)
                    {
                        // Cancelled in between: observe the receive, and leave.
                        _pendingReceive = default;
                        Observe(wait);
                        Volatile.Write(ref _receiveOutstanding, 0);
                        return;
                    }

                    Volatile.Write(ref _waiting, Waiting);
                    continue;
                }

                wait.GetAwaiter().UnsafeOnCompleted(_onReadable!);
                return;
            }

            Complete();
            return;
        }
    }

    /// A read that yielded its turn (see <see cref="SynchronousReadsBeforeYield"/>) completes here.
    void IThreadPoolWorkItem.Execute() => Complete();

    /// Completes the read that <see cref="OnReadable"/> (or the thread pool) took.
    private void Complete()
    {
        var cancelled = Interlocked.Exchange(ref _cancelRequested, 0) == 1;
        Volatile.Write(ref _waiting, NotWaiting);
        _source.SetResult(new ReadResult(Buffered, cancelled, isCompleted: _ended && !cancelled));
    }

    private void Observe(ValueTask<int> wait)
    {
        try
        {
            wait.GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            _ended = true;
        }
    }

    /// One non-blocking receive into the buffer's free space. True when bytes arrived or the connection
    /// ended; false when the socket has nothing now.
    private bool TryReceive()
    {
        int received;
        try
        {
            received = _socket.Receive(_buffer.FreeSpace(), SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock)
                return false;
            if (error != SocketError.Success)
                received = 0;
        }
        catch (ObjectDisposedException)
        {
            received = 0;
        }

        if (received == 0)
        {
            _ended = true;
            return true;
        }

        _buffer.Received(received);
        return true;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => _buffer.AdvanceTo(consumed, examined);

    public override bool TryRead(out ReadResult result)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        if (Interlocked.Exchange(ref _cancelRequested, 0) == 1)
        {
            result = new ReadResult(Buffered, isCanceled: true, isCompleted: false);
            return true;
        }

        if (HasUnexamined || _ended || TryReceive())
        {
            result = new ReadResult(Buffered, isCanceled: false, isCompleted: _ended);
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
        Interlocked.Exchange(ref _cancelRequested, 0);
        ThreadPool.UnsafeQueueUserWorkItem(static reader => reader._source.SetResult(new ReadResult(reader.Buffered, isCanceled: true, isCompleted: false)), this, preferLocal: false);
    }

    public override void Complete(Exception? exception = null)
    {
        if (_completed)
            return;
        _completed = true;
        if (Volatile.Read(ref _waiting) == NotWaiting)
            _buffer.Release();

        _pipe.HalfCompleted();
    }

    ReadResult IValueTaskSource<ReadResult>.GetResult(short token) => _source.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token) => _source.GetStatus(token);

    void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);
}
