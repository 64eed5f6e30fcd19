using System.IO.Pipelines;
using System.Net.Sockets;

namespace Kirisame.Transport.Sockets;

/// An accepted socket as the duplex pipe the broker serves, without Kestrel's per-connection machinery
/// (two pipes, a receive and a send loop, their state machines): the broker's read loop and writer use the
/// socket directly through <see cref="SocketPipeReader"/> and <see cref="SocketPipeWriter"/>. That is what
/// lets an idle connection cost little more than the socket itself (docs/adr/0005).
internal sealed class SocketPipe : IDuplexPipe
{
    private readonly Socket _socket;
    private readonly SocketListener? _listener;
    private int _closed;
    private int _completedHalves;

    /// <paramref name="listener"/> is told once the connection is closed.
    public SocketPipe(Socket socket, SocketListener? listener)
    {
        _socket = socket;
        _listener = listener;
        // Sends and receives are tried without blocking; waits are asynchronous (zero-byte receive, SendAsync).
        socket.Blocking = false;
        Input = new SocketPipeReader(socket, this);
        Output = new SocketPipeWriter(socket, this);
    }

    public PipeReader Input { get; }

    public PipeWriter Output { get; }

    /// The broker has completed one half; once it has completed both, it is done with the connection, which
    /// then closes (no task to await per connection).
    internal void HalfCompleted()
    {
        if (Interlocked.Increment(ref _completedHalves) == 2)
            Close();
    }

    /// Ends the connection at once: pending receives and sends fail, the peer sees a reset.
    public void Abort()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
            return;
        _listener?.Closed();
        try
        {
            _socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        _socket.Dispose();
    }

    /// Ends the connection after the broker is done with it: what was written has been handed to the
    /// kernel, which sends it before the FIN.
    public void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
            return;
        _listener?.Closed();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        _socket.Dispose();
    }
}
