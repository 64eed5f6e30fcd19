using System.IO.Pipelines;
using System.Net.Sockets;

namespace Kirisame.Transport.Sockets;

// Each zero-byte receive's ValueTask is consumed exactly once: in Observe, either at once (completed) or
// from OnReadable after its completion callback.
#pragma warning disable CA2012

/// The receiving half of a <see cref="SocketPipe"/>: the broker's read loop reads the socket through it
/// directly, with no pipe and no receive loop in between. An idle connection holds no buffer: it waits
/// with a zero-byte receive.
internal sealed class SocketPipeReader(Socket socket, SocketPipe pipe) : SocketReader
{
    private int _receiveOutstanding; // a zero-byte receive is in flight with OnReadable attached
    private ValueTask<int> _pendingReceive;
    private Action? _onReadable;

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (TryReadAtOnce(cancellationToken, out var atOnce))
            return atOnce;
        while (true)
        {
            if (Ended || TryReceive())
                return Ended ? new(new ReadResult(Buffer.Bytes, isCanceled: false, isCompleted: true)) : Yield();
            Buffer.ReleaseIfEmpty();

            if (Volatile.Read(ref _receiveOutstanding) == 1)
            {
                // A zero-byte receive from a read that was cancelled is still in flight: wait for it rather
                // than start a second one. If its callback ran before we registered, go round.
                BeginWait(Waiting);
                if (Volatile.Read(ref _receiveOutstanding) == 1 || Interlocked.CompareExchange(ref WaitState, NotWaiting, Waiting) != Waiting)
                    return Pending;
                continue;
            }

            ValueTask<int> wait;
            try
            {
                wait = socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, CancellationToken.None);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                Ended = true;
                continue;
            }

            if (wait.IsCompleted)
            {
                Observe(wait);
                continue;
            }

            _pendingReceive = wait;
            Volatile.Write(ref _receiveOutstanding, 1);
            BeginWait(Waiting);
            wait.GetAwaiter().UnsafeOnCompleted(_onReadable ??= OnReadable);
            return Pending;
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
            if (Interlocked.CompareExchange(ref WaitState, Completing, Waiting) != Waiting)
                return; // the read was cancelled meanwhile; the bytes wait for the next one

            if (!Ended && !TryReceive())
            {
                // Woken without bytes after all: wait again.
                Buffer.ReleaseIfEmpty();
                try
                {
                    wait = socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, CancellationToken.None);
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    Ended = true;
                    CompleteRead();
                    return;
                }

                _pendingReceive = wait;
                Volatile.Write(ref _receiveOutstanding, 1);
                Volatile.Write(ref WaitState, Waiting);
                if (wait.IsCompleted)
                {
                    if (Interlocked.CompareExchange(ref WaitState, Completing, Waiting) != Waiting)
                    {
                        // Cancelled in between: observe the receive, and leave.
                        _pendingReceive = default;
                        Observe(wait);
                        Volatile.Write(ref _receiveOutstanding, 0);
                        return;
                    }

                    Volatile.Write(ref WaitState, Waiting);
                    continue;
                }

                wait.GetAwaiter().UnsafeOnCompleted(_onReadable!);
                return;
            }

            CompleteRead();
            return;
        }
    }

    private void Observe(ValueTask<int> wait)
    {
        try
        {
            wait.GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            Ended = true;
        }
    }

    protected override bool TryReceive()
    {
        int received;
        try
        {
            received = socket.Receive(Buffer.FreeSpace(), SocketFlags.None, out var error);
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
            Ended = true;
            return true;
        }

        Buffer.Received(received);
        return true;
    }

    protected override void OnReaderCompleted() => pipe.HalfCompleted();
}
