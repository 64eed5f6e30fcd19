namespace Kirisame.Broker.Diagnostics;

/// Messages dropped, by reason: one counter per <see cref="DropReason"/>, bumped with Interlocked from any
/// thread. The array is made on the first drop, so that the many sessions that never drop hold none.
internal struct DropCounts
{
    private long[]? _counts;

    public static int ReasonCount { get; } = Enum.GetValues<DropReason>().Length;

    public void Add(DropReason reason)
    {
        var counts = Volatile.Read(ref _counts) ?? Interlocked.CompareExchange(ref _counts, new long[ReasonCount], null) ?? _counts!;
        Interlocked.Increment(ref counts[(int)reason]);
    }

    public readonly long this[DropReason reason] => _counts is { } counts ? Interlocked.Read(ref counts[(int)reason]) : 0;

    public readonly long Total
    {
        get
        {
            long total = 0;
            if (_counts is { } counts)
            {
                for (var i = 0; i < counts.Length; i++)
                    total += Interlocked.Read(ref counts[i]);
            }

            return total;
        }
    }

    /// The reasons with a non-zero count, for a snapshot.
    public readonly IReadOnlyDictionary<DropReason, long> ToDictionary()
    {
        var result = new Dictionary<DropReason, long>();
        if (_counts is { } counts)
        {
            for (var i = 0; i < counts.Length; i++)
            {
                var count = Interlocked.Read(ref counts[i]);
                if (count != 0)
                    result[(DropReason)i] = count;
            }
        }

        return result;
    }
}

/// Something that counts its own drops by reason: a session.
internal interface IDropCounter
{
    public void CountDrop(DropReason reason);
}
