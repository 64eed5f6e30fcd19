namespace Kirisame.Broker.Diagnostics;

/// When the broker's process gives the GC heap's spare memory back to the system (docs/adr/0012): in a quiet second
/// after a burst of allocation, when the GC holds much more than the objects it kept need, and not more often than
/// once a minute. A burst of 15,000 connects leaves ~12 MiB committed above the live objects: regions with the
/// burst's garbage between survivors (fragmentation), the last allocation budget, the dictionaries' outgrown
/// arrays; the GC keeps it all committed while nothing allocates, so without this the RSS stays at the peak.
/// The server's Memory/HeapTrim asks it once a second and collects; an embedding application keeps its own GC policy.
internal sealed class HeapTrimPolicy
{
    /// A second that allocated less than this is quiet: the burst is over. 15,000 idle connections allocate
    /// nearly nothing (a PINGREQ is answered without allocating); a connect allocates ~2.4 KB.
    internal const long QuietBytesPerSecond = 1 << 20;

    /// Spare memory worth a compacting collection: at least this much, and at least this share of what is committed.
    internal const long MinSpareBytes = 4 << 20;
    internal const double MinSpareShare = 0.2;

    /// A full compacting collection stops the process for a time that grows with the live heap (60–203 ms at
    /// 15,000 idle connections, ~20 MiB live, on the shared 2-core machine): at most one a minute, whatever the
    /// pattern of load.
    internal static readonly TimeSpan MinInterval = TimeSpan.FromMinutes(1);

    private readonly TimeProvider _time;
    private long _lastAllocated;
    private long? _lastTrimTicks; // none yet: the first burst is trimmed as soon as it is over

    public HeapTrimPolicy(TimeProvider time, long allocatedNow)
    {
        _time = time;
        _lastAllocated = allocatedNow;
    }

    /// Called once a second with the bytes allocated so far and the GC's view; true when the heap should be compacted
    /// and its spare memory decommitted now.
    /// <param name="committed">Bytes the GC has committed (GCMemoryInfo.TotalCommittedBytes).</param>
    /// <param name="inUse">Bytes of the heap the last collection left in use, fragmentation excluded: what a compacting
    /// collection would keep, at most.</param>
    public bool ShouldTrim(long allocated, long committed, long inUse)
    {
        var allocatedThisTick = allocated - _lastAllocated;
        _lastAllocated = allocated;
        if (allocatedThisTick >= QuietBytesPerSecond)
            return false;
        if (_lastTrimTicks is { } last && _time.GetElapsedTime(last) < MinInterval)
            return false;
        var spare = committed - inUse;
        return spare >= MinSpareBytes && spare >= committed * MinSpareShare;
    }

    /// A trim was made: the minute starts again, and what the collection allocated is not counted.
    public void Trimmed(long allocatedNow)
    {
        _lastAllocated = allocatedNow;
        _lastTrimTicks = _time.GetTimestamp();
    }
}
