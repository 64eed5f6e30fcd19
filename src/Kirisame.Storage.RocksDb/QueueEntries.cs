namespace Kirisame.Storage.RocksDb;

/// The live entries of one stored queue, for the writer: each sequence with the body it refers to, in sequence order,
/// in one array of 16-byte pairs. A queue is appended to at its end (new entries have the highest sequence) and
/// mostly removed from at its front, so the array is kept sorted by appending, removal only marks an entry dead, and
/// the dead are squeezed out when they outnumber the living: about 16 to 32 bytes per queued message, whatever the
/// queue's depth, instead of a hash table's 40 to 80. Writer thread only.
internal sealed class QueueEntries
{
    /// A body value of 0 marks a removed entry (body ids start at 1).
    private struct Slot
    {
        public long Sequence;
        public long Body;
    }

    private const int SmallestArray = 4;
    private Slot[] _slots = [];
    private int _start;
    private int _end;

    /// Live entries.
    public int Count { get; private set; }

    /// The lowest live sequence; only when <see cref="Count"/> is above 0.
    public long First => _slots[_start].Sequence;

    /// The body value of a live entry (body id, possibly with flags), 0 when there is none.
    public long Get(long sequence)
    {
        var at = Find(sequence);
        return at < 0 ? 0 : _slots[at].Body;
    }

    /// Replaces the body value of a live entry (its flags); false when there is none.
    public bool Set(long sequence, long body)
    {
        var at = Find(sequence);
        if (at < 0)
            return false;
        _slots[at].Body = body;
        return true;
    }

    /// Adds an entry that is not there. Appending (a sequence above every other) is the usual case; a lower one is
    /// inserted in its place.
    public void Add(long sequence, long body)
    {
        if (_end == _slots.Length)
            MakeRoom();
        if (_end == _start || _slots[_end - 1].Sequence < sequence)
        {
            _slots[_end++] = new Slot { Sequence = sequence, Body = body };
        }
        else
        {
            var at = LowerBound(sequence);
            Array.Copy(_slots, at, _slots, at + 1, _end - at);
            _slots[at] = new Slot { Sequence = sequence, Body = body };
            _end++;
        }

        Count++;
    }

    /// Removes a live entry, returning its body value (0 when there is none).
    public long Remove(long sequence)
    {
        var at = Find(sequence);
        if (at < 0)
            return 0;
        var body = _slots[at].Body;
        _slots[at].Body = 0;
        Count--;
        while (_start < _end && _slots[_start].Body == 0)
            _start++;
        if (Count == 0)
        {
            _start = _end = 0;
            if (_slots.Length > 1024)
                _slots = []; // a drained deep queue gives its array back
        }
        else if (_end - _start - Count > Count + SmallestArray)
        {
            Compact();
        }

        return body;
    }

    /// Every live entry's body value.
    public IEnumerable<long> Bodies()
    {
        for (var i = _start; i < _end; i++)
        {
            if (_slots[i].Body != 0)
                yield return _slots[i].Body;
        }
    }

    private int Find(long sequence)
    {
        var at = LowerBound(sequence);
        return at < _end && _slots[at].Sequence == sequence && _slots[at].Body != 0 ? at : -1;
    }

    /// The first slot in use whose sequence is not below <paramref name="sequence"/>.
    private int LowerBound(long sequence)
    {
        int low = _start, high = _end;
        while (low < high)
        {
            var middle = (low + high) >>> 1;
            if (_slots[middle].Sequence < sequence)
                low = middle + 1;
            else
                high = middle;
        }

        return low;
    }

    /// Room for one more at the end: squeeze out the dead and the consumed front if that frees enough, else grow.
    private void MakeRoom()
    {
        if (Count < _slots.Length / 2)
        {
            Compact();
            return;
        }

        var larger = new Slot[Math.Max(SmallestArray, _slots.Length * 2)];
        var kept = CopyLive(larger);
        _slots = larger;
        _start = 0;
        _end = kept;
    }

    private void Compact()
    {
        var target = _slots.Length > 4 * Math.Max(Count, SmallestArray) ? new Slot[Math.Max(SmallestArray, Count * 2)] : _slots;
        var kept = CopyLive(target);
        _slots = target;
        _start = 0;
        _end = kept;
    }

    private int CopyLive(Slot[] target)
    {
        var kept = 0;
        for (var i = _start; i < _end; i++)
        {
            if (_slots[i].Body != 0)
                target[kept++] = _slots[i];
        }

        return kept;
    }
}
