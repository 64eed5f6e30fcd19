using Microsoft.Extensions.Logging;

namespace Kirisame.Transport.Listeners;

/// A warning that may fire thousands of times a second (refusals during a connection flood, accept out of
/// descriptors): the first occurrence is logged at once, later ones are counted and summed up in one line
/// per interval while they keep coming. A line per occurrence would make the log the next thing to fill the
/// disk or burn the CPU. <paramref name="one"/> starts the first line ("Refused a connection"),
/// <paramref name="many"/> names the summed-up ones ("connections refused").
internal sealed class ThrottledWarning(ILogger logger, string one, string many, TimeProvider time, TimeSpan interval)
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMinutes(1);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, (long Count, string Detail)> _pending = new(StringComparer.Ordinal);
    private ITimer? _timer;

    /// One occurrence. <paramref name="kind"/> groups them in the summary and must come from a small set
    /// (a cause, an error code), not from the peer; <paramref name="detail"/> is the text shown for the kind.
    public void Report(string kind, string detail)
    {
        lock (_lock)
        {
            if (_timer is not null)
            {
                var count = _pending.GetValueOrDefault(kind).Count;
                _pending[kind] = (count + 1, detail);
                return;
            }

            _timer = time.CreateTimer(_ => Flush(), null, interval, interval);
        }

        logger.LogWarning("{One}: {Detail} (further ones are summed up every {Interval})", one, detail, Describe(interval));
    }

    private void Flush()
    {
        string? summary;
        long total;
        lock (_lock)
        {
            if (_pending.Count == 0)
            {
                // Quiet for a whole interval: the next occurrence is news again and is logged at once.
                _timer?.Dispose();
                _timer = null;
                return;
            }

            total = _pending.Values.Sum(p => p.Count);
            summary = string.Join("; ", _pending.Values.Select(p => p.Count == total ? p.Detail : $"{p.Detail} ({p.Count})"));
            _pending.Clear();
        }

        logger.LogWarning("{Count} {Many} in the last {Interval}: {Summary}", total, many, Describe(interval), summary);
    }

    private static string Describe(TimeSpan interval) =>
        interval == TimeSpan.FromMinutes(1) ? "minute" : $"{interval.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} s";
}
