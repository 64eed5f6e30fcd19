using System.Numerics;

namespace Kirisame.Bench.Measurement;

/// Log-linear histogram of non-negative values (Stopwatch ticks): exact below 128, then 64 buckets per
/// power of two, so a reported percentile is within 1/64 (1.6 %) of the true value. Recording is an
/// increment into a fixed array; one histogram per subscriber, merged after the run, so no locks.
internal sealed class LatencyHistogram
{
    private const int SubBucketBits = 6;
    private const int SubBuckets = 1 << SubBucketBits;      // 64 per power of two
    private const int LinearLimit = SubBuckets * 2;         // values below 128 have their own bucket
    private const int BucketCount = LinearLimit + (64 - SubBucketBits) * SubBuckets;

    private readonly long[] _counts = new long[BucketCount];

    public long Count { get; private set; }

    public long Max { get; private set; }

    public void Record(long value)
    {
        if (value < 0)
            value = 0; // clock steps between cores are not latency
        _counts[IndexOf(value)]++;
        Count++;
        if (value > Max)
            Max = value;
    }

    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < BucketCount; i++)
            _counts[i] += other._counts[i];
        Count += other.Count;
        Max = Math.Max(Max, other.Max);
    }

    /// The value at quantile <paramref name="q"/> (0..1): the middle of the bucket holding that rank,
    /// never more than the largest value seen.
    public long Percentile(double q)
    {
        if (Count == 0)
            return 0;
        var rank = (long)Math.Ceiling(q * Count);
        if (rank < 1)
            rank = 1;
        long seen = 0;
        for (var i = 0; i < BucketCount; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
                return Math.Min(MidpointOf(i), Max);
        }

        return Max;
    }

    internal static int IndexOf(long value)
    {
        if (value < LinearLimit)
            return (int)value;
        var shift = 63 - BitOperations.LeadingZeroCount((ulong)value) - SubBucketBits; // >= 1
        var top = (int)(value >> shift);                                            // 64..127
        return LinearLimit + ((shift - 1) * SubBuckets) + (top - SubBuckets);
    }

    internal static long MidpointOf(int index)
    {
        if (index < LinearLimit)
            return index;
        var shift = ((index - LinearLimit) / SubBuckets) + 1;
        var top = (long)(((index - LinearLimit) % SubBuckets) + SubBuckets);
        return (top << shift) + ((1L << shift) / 2);
    }
}
