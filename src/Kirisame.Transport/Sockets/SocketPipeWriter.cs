using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Kirisame.Transport.Sockets;

/// The sending half of a <see cref="SocketPipe"/>: the broker's writer encodes a batch into one pooled
/// buffer, and the flush sends it with a non-blocking send on the writer's own thread. Only when the
/// socket's send buffer is full does the flush wait (asynchronously) for the rest to go out, which is the
/// back-pressure the broker's writer expects from a flush. The buffer goes back to the pool after each
/// complete send, so an idle connection holds none.
internal sealed class SocketPipeWriter(Socket socket, SocketPipe pipe) : PipeWriter
{
    private SendBuffer _buffer;
    private bool _completed;
    private bool _failed; // a send failed: the connection is gone, later flushes report IsCompleted
    private int _cancelRequested;
    private int _sending; // an asynchronous send is in flight

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

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (_failed)
            return new(new FlushResult(isCanceled: false, isCompleted: true));
        var sent = 0;
        while (sent < _buffer.Written)
        {
            int n;
            try
            {
                n = socket.Send(_buffer.Array!, sent, _buffer.Written - sent, SocketFlags.None, out var error);
                if (error == SocketError.WouldBlock)
                    return SendRestAsync(sent);
                if (error != SocketError.Success)
                    return new(Fail());
            }
            catch (ObjectDisposedException)
            {
                return new(Fail());
            }

            sent += n;
        }

        ReleaseBuffer();
        return new(new FlushResult(isCanceled: Interlocked.Exchange(ref _cancelRequested, 0) == 1, isCompleted: false));
    }

    /// The socket's send buffer is full (the client reads slower than we write): send the rest as it drains.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FlushResult> SendRestAsync(int sent)
    {
        Volatile.Write(ref _sending, 1);
        try
        {
            while (sent < _buffer.Written)
                sent += await socket.SendAsync(_buffer.Array.AsMemory(sent, _buffer.Written - sent), SocketFlags.None);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            var cancelled = Interlocked.Exchange(ref _cancelRequested, 0) == 1;
            var result = Fail();
            return cancelled ? new FlushResult(isCanceled: true, isCompleted: false) : result;
        }
        finally
        {
            Volatile.Write(ref _sending, 0);
        }

        ReleaseBuffer();
        return new FlushResult(isCanceled: Interlocked.Exchange(ref _cancelRequested, 0) == 1, isCompleted: false);
    }

    private FlushResult Fail()
    {
        _failed = true;
        ReleaseBuffer();
        return new FlushResult(isCanceled: false, isCompleted: true);
    }

    private void ReleaseBuffer() => _buffer.Release();

    /// The broker gives up on a client that does not read: a send waiting on it is ended by aborting the
    /// connection (the flush then reports IsCanceled).
    public override void CancelPendingFlush()
    {
        Volatile.Write(ref _cancelRequested, 1);
        if (Volatile.Read(ref _sending) == 1)
            pipe.Abort();
    }

    public override void Complete(Exception? exception = null)
    {
        if (_completed)
            return;
        _completed = true;
        if (Volatile.Read(ref _sending) == 0)
            ReleaseBuffer();
        pipe.HalfCompleted();
    }
}
