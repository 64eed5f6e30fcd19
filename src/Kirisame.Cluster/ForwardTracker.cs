namespace Kirisame.Cluster;

/// Numbers the QoS 1/2 messages (and retained changes) this node sends to other nodes, and tells when every one up to
/// a number has been accepted by its node — or given up because that node died. <see cref="ClusterStore"/> folds this
/// into the store's durability marks, so a publisher's PUBACK/PUBREC waits for the owning nodes exactly as it waits for
/// the store's commit (docs/adr/0003, 0020); a single node has no tracker and no cost.
internal sealed class ForwardTracker
{
    private readonly Lock _lock = new();
    private readonly SortedSet<long> _outstanding = [];
    private readonly Queue<Waiter> _waiters = new();
    private readonly List<(List<long> Sequences, TaskCompletionSource Done)> _setWaiters = [];
    private long _last;

    /// The number of the last message sent so far.
    public long Mark() => Volatile.Read(ref _last);

    /// Numbers a message about to be queued for a node; the caller queues it under the same lock as its other
    /// messages to that node, so that numbers leave each node's queue in order.
    public long Next()
    {
        lock (_lock)
        {
            var sequence = ++_last;
            _outstanding.Add(sequence);
            return sequence;
        }
    }

    /// Everything up to <paramref name="mark"/> has been accepted (or abandoned).
    public bool IsDone(long mark)
    {
        lock (_lock)
            return DoneLocked(mark);
    }

    private bool DoneLocked(long mark) => _outstanding.Count == 0 || _outstanding.Min > mark;

    /// Accepted by their node, or abandoned with it.
    public void Done(IReadOnlyList<long> sequences)
    {
        if (sequences.Count == 0)
            return;
        List<Waiter>? due = null;
        lock (_lock)
        {
            foreach (var sequence in sequences)
                _outstanding.Remove(sequence);
            // In the order they asked: a connection's acknowledgements must leave in its PUBLISHes' order
            // [MQTT-4.6.0-2], and a later waiter of one connection never has a lower mark than an earlier one.
            while (_waiters.TryPeek(out var waiter) && DoneLocked(waiter.Mark))
                (due ??= []).Add(_waiters.Dequeue());
            if (_setWaiters.Count > 0)
                CompleteSetWaitersLocked();
        }

        if (due is not null)
        {
            foreach (var waiter in due)
                waiter.Callback(waiter.State);
        }
    }

    /// Calls back once everything up to <paramref name="mark"/> is done, after every earlier waiter.
    public void WhenDone(long mark, Action<object?> callback, object? state)
    {
        lock (_lock)
        {
            if (_waiters.Count > 0 || !DoneLocked(mark))
            {
                _waiters.Enqueue(new Waiter(mark, callback, state));
                return;
            }
        }

        callback(state);
    }

    /// Completes once each of <paramref name="sequences"/> is done, whatever came before them: a relay waits for its
    /// own forwards only, not for every earlier one (which may wait on the node the relayed batch came from).
    public Task WhenDoneAsync(List<long> sequences)
    {
        lock (_lock)
        {
            if (!sequences.Exists(_outstanding.Contains))
                return Task.CompletedTask;
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _setWaiters.Add((sequences, done));
            return done.Task;
        }
    }

    private void CompleteSetWaitersLocked()
    {
        for (var i = _setWaiters.Count - 1; i >= 0; i--)
        {
            if (_setWaiters[i].Sequences.Exists(_outstanding.Contains))
                continue;
            _setWaiters[i].Done.TrySetResult(); // continuations run asynchronously: not under this lock
            _setWaiters.RemoveAt(i);
        }
    }

    private readonly record struct Waiter(long Mark, Action<object?> Callback, object? State);
}
