using System.Diagnostics;

namespace Kirisame.Broker.Sessions;

/// The broker-wide bound on bytes held in packets that are still arriving (Broker:MaxPartialPacketBytes). A
/// packet is held whole before it is handled (ADR 0001), so the maximum packet size (16 MiB) alone would let a
/// few hundred clients that each begin a large PUBLISH and then trickle it make the broker hold gigabytes. A
/// connection whose next packet is over <see cref="SmallPacketBytes"/> reserves its whole length here, known from
/// the fixed header, before it reads the rest, and returns it once the packet is handled or the connection
/// closes. When the budget is spent, the connection waits without reading — TCP back-pressure holds its
/// client — until returned reservations make room, and gives up after a timeout.
///
/// Waiters are served first come, first served: a large packet is not overtaken for ever by smaller ones that
/// happen to fit. Small packets never come here: they are most packets, and what a connection holds of one is
/// bounded by its receive buffer.
internal sealed class PartialPacketBudget
{
    /// Packets up to this size never reserve: the read that brought their fixed header usually brings them whole.
    public const int SmallPacketBytes = 64 * 1024;

    private readonly Lock _lock = new();
    private readonly LinkedList<Waiter> _waiters = [];
    private long _reserved;
    private long _timedOut;

    /// <paramref name="capacity"/> 0 is no limit (reservations are still counted).
    public PartialPacketBudget(long capacity) => Capacity = capacity > 0 ? capacity : long.MaxValue;

    public long Capacity { get; }

    /// Bytes reserved now.
    public long Reserved => Interlocked.Read(ref _reserved);

    /// Connections waiting for room now.
    public int Waiting
    {
        get
        {
            lock (_lock)
                return _waiters.Count;
        }
    }

    /// Waits that ran out of time since start (each closed its connection).
    public long TimedOut => Interlocked.Read(ref _timedOut);

    /// Reserves <paramref name="bytes"/> if they fit now and nobody is waiting ahead.
    public bool TryReserve(int bytes)
    {
        lock (_lock)
        {
            if (_waiters.Count > 0 || bytes > Capacity - _reserved)
                return false;
            Interlocked.Add(ref _reserved, bytes);
            return true;
        }
    }

    /// Reserves <paramref name="bytes"/>, waiting in line for room if need be. False when no room came within
    /// <paramref name="timeout"/> (counted in <see cref="TimedOut"/>), when <paramref name="abandon"/> completed
    /// first (the connection is closing), or when the request is larger than the whole budget; nothing is then
    /// reserved.
    public async ValueTask<bool> ReserveAsync(int bytes, TimeSpan timeout, Task abandon, TimeProvider time)
    {
        Waiter waiter;
        lock (_lock)
        {
            if (bytes > Capacity)
                return false; // could never be granted, and would hold up everyone behind it
            if (_waiters.Count == 0 && bytes <= Capacity - _reserved)
            {
                Interlocked.Add(ref _reserved, bytes);
                return true;
            }

            waiter = new Waiter(bytes);
            waiter.Node = _waiters.AddLast(waiter);
        }

        // The waiter's task is the one arbiter: granted, timed out or abandoned, whichever sets it first.
        using (var timer = new CancellationTokenSource(timeout, time))
        using (timer.Token.UnsafeRegister(static state => ((Waiter)state!).TrySetResult(Outcome.TimedOut), waiter))
            await Task.WhenAny(waiter.Task, abandon);
        waiter.TrySetResult(Outcome.Abandoned);
        var outcome = await waiter.Task;
        if (outcome == Outcome.Granted)
            return true;

        lock (_lock)
        {
            if (waiter.Node.List is not null)
                _waiters.Remove(waiter.Node);
            GrantLocked(); // those behind it may fit now
        }

        if (outcome == Outcome.TimedOut)
            Interlocked.Increment(ref _timedOut);
        return false;
    }

    /// Returns a reservation; waiters that now fit get theirs, in order.
    public void Release(int bytes)
    {
        lock (_lock)
        {
            Interlocked.Add(ref _reserved, -bytes);
            Debug.Assert(_reserved >= 0, "more was returned than reserved");
            GrantLocked();
        }
    }

    private void GrantLocked()
    {
        while (_waiters.First is { } first)
        {
            var waiter = first.Value;
            if (!waiter.Task.IsCompleted && waiter.Bytes > Capacity - _reserved)
                return;
            _waiters.RemoveFirst();
            // A waiter that timed out or was abandoned meanwhile is only dropped: its reservation is not made.
            if (waiter.TrySetResult(Outcome.Granted))
                Interlocked.Add(ref _reserved, waiter.Bytes);
        }
    }

    private enum Outcome
    {
        Granted,
        TimedOut,
        Abandoned,
    }

    private sealed class Waiter(int bytes) : TaskCompletionSource<Outcome>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public int Bytes { get; } = bytes;

        public LinkedListNode<Waiter> Node { get; set; } = null!;
    }
}
