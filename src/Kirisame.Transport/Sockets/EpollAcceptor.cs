using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Kirisame.Native;

namespace Kirisame.Transport.Sockets;

/// A listening socket on the epoll engine: when it is readable, the epoll thread accepts every pending
/// connection (accept4, non-blocking, the peer's address taken from its result) and hands each to the
/// listener, which starts it there and then — no Socket object, no thread-pool hop, no extra system call
/// per connection.
internal sealed unsafe class EpollAcceptor : EpollItem
{
    /// How long to wait before accepting again when accept fails for want of descriptors or memory.
    public static readonly TimeSpan Backoff = TimeSpan.FromMilliseconds(50);

    private const int ENoMem = 12;
    private const int ENFile = 23;
    private const int EMFile = 24;
    private const int EConnAborted = 103;
    private const int ENoBufs = 105;

    private readonly Socket _socket;
    private readonly int _fd;
    private readonly EpollEngine _engine;
    private readonly Action<int, EndPoint?> _accepted;
    private readonly Action<int> _failed;
    private readonly ITimer _retry;
    private readonly Lock _lock = new();
    private bool _stopped;

    /// <paramref name="socket"/> is bound and listening; <paramref name="accepted"/> gets each new descriptor,
    /// <paramref name="failed"/> the errno of an accept that failed for want of resources (it is retried).
    public EpollAcceptor(Socket socket, EpollEngine engine, Action<int, EndPoint?> accepted, Action<int> failed)
    {
        _socket = socket;
        _engine = engine;
        _accepted = accepted;
        _failed = failed;
        _retry = TimeProvider.System.CreateTimer(_ => OnEvents(0, quiet: false), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        socket.Blocking = false;
        _fd = (int)socket.SafeHandle.DangerousGetHandle();
        engine.Register(this, _fd);
    }

    /// On the epoll thread, or on the retry timer's after a failed accept (the lock keeps them apart).
    public override void OnEvents(uint events, bool quiet)
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
                    if (errno == Epoll.EIntr || errno == EConnAborted)
                        continue;
                    if (errno is EMFile or ENFile or ENoBufs or ENoMem)
                    {
                        // The listening socket is edge-triggered: no new event comes for the connections
                        // already waiting, so without a retry they would hang in the backlog until another
                        // one arrives. Retrying at once would spin; wait for descriptors to be freed.
                        _retry.Change(Backoff, Timeout.InfiniteTimeSpan);
                        _failed(errno);
                    }

                    return; // EAGAIN: all taken
                }

                _accepted(fd, EndPointOf(address, length));
            }
        }
    }

    /// Names an errno that <see cref="OnEvents"/> retries, for the log.
    public static string Describe(int errno) => errno switch
    {
        EMFile => "the process is out of file descriptors (EMFILE)",
        ENFile => "the system is out of file descriptors (ENFILE)",
        ENoBufs => "out of socket buffers (ENOBUFS)",
        ENoMem => "out of memory (ENOMEM)",
        _ => $"errno {errno}",
    };

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
            _retry.Dispose();
            _engine.Unregister(Id);
            _socket.Dispose();
        }
    }
}
