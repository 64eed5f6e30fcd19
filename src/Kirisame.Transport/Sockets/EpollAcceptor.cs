using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Kirisame.Transport.Sockets;

/// A listening socket on the epoll engine: when it is readable, the epoll thread accepts every pending
/// connection (accept4, non-blocking, the peer's address taken from its result) and hands each to the
/// listener, which starts it there and then — no Socket object, no thread-pool hop, no extra system call
/// per connection.
internal sealed unsafe class EpollAcceptor : EpollItem
{
    private readonly Socket _socket;
    private readonly int _fd;
    private readonly EpollEngine _engine;
    private readonly Action<int, EndPoint?> _accepted;
    private readonly Lock _lock = new();
    private bool _stopped;

    /// <paramref name="socket"/> is bound and listening; <paramref name="accepted"/> gets each new descriptor.
    public EpollAcceptor(Socket socket, EpollEngine engine, Action<int, EndPoint?> accepted)
    {
        _socket = socket;
        _engine = engine;
        _accepted = accepted;
        socket.Blocking = false;
        _fd = (int)socket.SafeHandle.DangerousGetHandle();
        engine.Register(this, _fd);
    }

    public override void OnEvents(uint events)
    {
        var address = stackalloc byte[128];
        lock (_lock)
        {
            while (!_stopped)
            {
                var length = 128;
                var fd = Epoll.Accept(_fd, address, &length, Epoll.SockNonBlock | Epoll.SockCloExec);
                if (fd < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == Epoll.EIntr || errno == 103 /* ECONNABORTED */)
                        continue;
                    return; // EAGAIN: all taken; EMFILE and the like: the next connection's event tries again
                }

                _accepted(fd, EndPointOf(address, length));
            }
        }
    }

    private static IPEndPoint? EndPointOf(byte* address, int length)
    {
        var family = *(ushort*)address;
        var port = (address[2] << 8) | address[3];
        if (family == Epoll.AfInet && length >= 8)
            return new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(address + 4, 4)), port);
        if (family == Epoll.AfInet6 && length >= 24)
            return new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(address + 8, 16), *(uint*)(address + 24)), port);
        return null;
    }

    /// Stops accepting and closes the listening socket (after any accept in progress).
    public void Stop()
    {
        lock (_lock)
        {
            if (_stopped)
                return;
            _stopped = true;
            _engine.Unregister(Id);
            _socket.Dispose();
        }
    }
}
