using System.Net;
using Microsoft.Extensions.Logging;

namespace Kirisame.Broker.Diagnostics;

/// Log lines that anyone can cause — a malformed packet, a refused CONNECT, garbage before CONNECT — are written
/// in full at most once a minute per kind and source address; the rest are counted and summed up when the minute
/// is over ("57 more 'bad CONNECT' from 192.0.2.7 in the last minute"). A flood then costs one line a minute per
/// address instead of one per packet, and the table of addresses is bounded (beyond it, one line for all).
internal sealed class LogThrottle(TimeProvider time)
{
    private static readonly TimeSpan s_window = TimeSpan.FromMinutes(1);
    private const int MaxTracked = 10_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<(string Kind, IPAddress? Source), Entry> _entries = [];
    private long _untracked;
    private long _untrackedSince;

    private sealed class Entry(long windowStart)
    {
        public long WindowStart { get; } = windowStart;

        public long Suppressed { get; set; }
    }

    /// True: write this line now. False: it was counted, and <see cref="Flush"/> sums it up later.
    public bool Allow(string kind, EndPoint? remote)
    {
        var source = (remote as IPEndPoint)?.Address;
        lock (_lock)
        {
            if (_entries.TryGetValue((kind, source), out var entry))
            {
                entry.Suppressed++;
                return false;
            }

            if (_entries.Count >= MaxTracked)
            {
                if (_untracked++ == 0)
                    _untrackedSince = time.GetTimestamp();
                return false;
            }

            _entries[(kind, source)] = new Entry(time.GetTimestamp());
            return true;
        }
    }

    /// Called every second (housekeeping): minutes that are over are summed up, and their sources forgotten.
    public void Flush(ILogger logger)
    {
        List<(string Kind, IPAddress? Source, long Count)>? summaries = null;
        long untracked = 0;
        var now = time.GetTimestamp();
        lock (_lock)
        {
            List<(string, IPAddress?)>? over = null;
            foreach (var (key, entry) in _entries)
            {
                if (time.GetElapsedTime(entry.WindowStart, now) < s_window)
                    continue;
                (over ??= []).Add(key);
                if (entry.Suppressed > 0)
                    (summaries ??= []).Add((key.Kind, key.Source, entry.Suppressed));
            }

            foreach (var key in over ?? [])
                _entries.Remove(key);
            if (_untracked > 0 && time.GetElapsedTime(_untrackedSince, now) >= s_window)
            {
                untracked = _untracked;
                _untracked = 0;
            }
        }

        foreach (var (kind, source, count) in summaries ?? [])
            logger.LogInformation("{Count} more '{Kind}' from {Source} in the last minute", count, kind, source?.ToString() ?? "unknown");
        if (untracked > 0)
            logger.LogWarning("{Count} more log lines from other addresses in the last minute (over {Max} addresses)", untracked, MaxTracked);
    }
}
