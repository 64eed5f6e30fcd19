using System.Diagnostics;
using System.Runtime.InteropServices;
using Kirisame.Native;

namespace Kirisame.Transport.Sockets;

/// One epoll instance and the thread that waits on it, for every connection of the epoll engine. Each
/// socket is registered once, edge-triggered for both directions; an event only records readiness or
/// wakes the reader or writer waiting for it (on the thread pool). A connection is known to the kernel by
/// its index in a table, so nothing per connection is pinned or handed to native code.
internal sealed unsafe class EpollEngine : IDisposable
{
    private const int MaxEvents = 256;

    /// A turn is quiet when it brings at most this many events after epoll_wait had to wait for them at least
    /// <see cref="QuietWait"/>: readers may then handle small reads on this thread (<see cref="EpollPipeReader.OnReadable"/>).
    /// Events already waiting, or many at once, mean the broker is busy: their work goes to the pool, where it
    /// gathers into larger batches (handling every small read at once under load costs a write per read).
    private const int QuietTurnEvents = 4;

    private static readonly long QuietWait = Stopwatch.Frequency / 20_000; // 50 µs

    /// Off unless KIRISAME_INLINE_READS=1: handling small reads on this thread takes the last thread-pool hop off a
    /// PUBLISH at light load, but on this project's shared 2-core machine unthrottled fan-in fell into its slow mode
    /// (a write per small read) about twice as often with it. To be measured on a quiet machine before it is the
    /// default (docs/adr/0012).
    internal static readonly bool InlineReads = Environment.GetEnvironmentVariable("KIRISAME_INLINE_READS") == "1";

    private readonly int _epoll;
    private readonly Thread _thread;
    private readonly Lock _lock = new();
    private EpollItem?[] _table = new EpollItem?[1024];
    private int[] _free = new int[1024];
    private int _freeCount;
    private int _next;
    private volatile bool _stopping;

    public EpollEngine()
    {
        _epoll = Epoll.Create(0x80000 /* EPOLL_CLOEXEC */);
        if (_epoll < 0)
            throw new IOException($"epoll_create1 failed (errno {Marshal.GetLastPInvokeError()})");
        _thread = new Thread(Run) { IsBackground = true, Name = "Kirisame epoll" };
        _thread.Start();
    }

    /// Adds a socket: an accepted connection, or a listening socket. Throws IOException when the kernel refuses it.
    public void Register(EpollItem connection, int fd)
    {
        int id;
        lock (_lock)
        {
            if (_freeCount > 0)
            {
                id = _free[--_freeCount];
            }
            else
            {
                id = _next++;
                if (id == _table.Length)
                {
                    var larger = new EpollItem?[_table.Length * 2];
                    _table.AsSpan().CopyTo(larger);
                    Volatile.Write(ref _table, larger);
                }
            }

            _table[id] = connection;
        }

        connection.Id = id;
        var ev = new Epoll.Event
        {
            Events = Epoll.EpollIn | Epoll.EpollOut | Epoll.EpollRdHup | Epoll.EpollEt,
            Data = (ulong)id,
        };
        if (Epoll.Control(_epoll, Epoll.CtlAdd, fd, &ev) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            Unregister(id);
            throw new IOException($"epoll_ctl(ADD) failed (errno {errno})");
        }
    }

    /// Forgets a connection before its socket is closed (closing removes it from the epoll set). An event
    /// already on its way for the id may reach the next connection given the id: a spurious wake-up, which
    /// readers and writers tolerate (they try, find nothing, and wait again).
    public void Unregister(int id)
    {
        lock (_lock)
        {
            _table[id] = null;
            if (_freeCount == _free.Length)
                Array.Resize(ref _free, _free.Length * 2);
            _free[_freeCount++] = id;
        }
    }

    private void Run()
    {
        var events = stackalloc Epoll.Event[MaxEvents];
        while (!_stopping)
        {
            var waitStart = InlineReads ? Stopwatch.GetTimestamp() : 0;
            var count = Epoll.Wait(_epoll, events, MaxEvents, 500);
            if (count < 0)
            {
                if (Marshal.GetLastPInvokeError() == Epoll.EIntr)
                    continue;
                return;
            }

            var table = Volatile.Read(ref _table);
            // A quiet turn: this thread has little else to do, so a reader may handle a small read here (IInlineReads)
            // instead of waking a pool thread. When the broker is busy the work goes to the pool, so that one thread
            // never serves a busy broker alone.
            var quiet = InlineReads && count <= QuietTurnEvents && Stopwatch.GetTimestamp() - waitStart >= QuietWait;
            for (var i = 0; i < count; i++)
            {
                var id = (int)events[i].Data;
                var connection = (uint)id < (uint)table.Length ? Volatile.Read(ref table[id]) : null;
                connection?.OnEvents(events[i].Events, quiet);
            }
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _thread.Join();
        Epoll.Close(_epoll);
    }
}

/// What the epoll thread dispatches events to, by the index it was registered with.
internal abstract class EpollItem
{
    /// Index in the engine's table; the kernel reports events with it.
    public int Id { get; set; }

    /// Called on the epoll thread; <paramref name="quiet"/>: one of few events in its turn (see <see cref="EpollEngine"/>).
    public abstract void OnEvents(uint events, bool quiet);
}

/// The readiness of one direction of a socket, shared by the epoll thread (which signals) and the reader
/// or writer (which arms before waiting). Edge-triggered events are not repeated, so an event that finds
/// nobody waiting is kept as Signalled, and a waiter that finds it so tries again instead of waiting.
internal static class Readiness
{
    public const int None = 0;
    public const int Armed = 1;
    public const int Signalled = 2;

    /// The event side: true when it took an armed waiter, which the caller must now wake.
    public static bool Signal(ref int state)
    {
        while (true)
        {
            var current = Volatile.Read(ref state);
            if (current == Armed)
            {
                if (Interlocked.CompareExchange(ref state, None, Armed) == Armed)
                    return true;
            }
            else if (current == None)
            {
                if (Interlocked.CompareExchange(ref state, Signalled, None) == None)
                    return false;
            }
            else
            {
                return false;
            }
        }
    }

    /// The waiter side: true when armed (a later event wakes it); false when an event came meanwhile,
    /// which is consumed: the caller tries again at once.
    public static bool Arm(ref int state)
    {
        if (Interlocked.CompareExchange(ref state, Armed, None) == None)
            return true;
        Volatile.Write(ref state, None);
        return false;
    }

    /// Withdraws an armed wait (a cancelled read); an event that took it already has left it Signalled.
    public static void Disarm(ref int state) => Interlocked.CompareExchange(ref state, None, Armed);
}
