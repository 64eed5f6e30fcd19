using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Kirisame.Transport.Sockets;

/// The sending half of a <see cref="SocketPipe"/>: when the socket's send buffer is full, the flush waits
/// (asynchronously) for the rest to go out, which is the back-pressure the broker's writer expects from a
/// flush.
internal sealed class SocketPipeWriter(Socket socket, SocketPipe pipe) : SocketWriter
{
    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (Failed)
            return new(new FlushResult(isCanceled: false, isCompleted: true));
        var sent = 0;
        while (sent < Buffer.Written)
        {
            int n;
            try
            {
                n = socket.Send(Buffer.Array!, sent, Buffer.Written - sent, SocketFlags.None, out var error);
                if (error == SocketError.WouldBlock)
                    return SendRestAsync(sent);
                if (error != SocketError.Success)
                    return new(Finish(failed: true));
            }
            catch (ObjectDisposedException)
            {
                return new(Finish(failed: true));
            }

            sent += n;
        }

        return new(Finish(failed: false));
    }

    /// The socket's send buffer is full (the client reads slower than we write): send the rest as it drains.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FlushResult> SendRestAsync(int sent)
    {
        Volatile.Write(ref Sending, 1);
        try
        {
            while (sent < Buffer.Written)
                sent += await socket.SendAsync(Buffer.Array.AsMemory(sent, Buffer.Written - sent), SocketFlags.None);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return Finish(failed: true);
        }
        finally
        {
            Volatile.Write(ref Sending, 0);
        }

        return Finish(failed: false);
    }

    protected override void Abort() => pipe.Abort();

    protected override void OnWriterCompleted() => pipe.HalfCompleted();
}
