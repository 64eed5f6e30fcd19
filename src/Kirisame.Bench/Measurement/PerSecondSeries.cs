using System.Diagnostics;

namespace Kirisame.Bench.Measurement;

/// A running total (messages delivered, accepted) read once a second through the window, kept as one rate
/// per interval. The window's average hides a broker that stalls for a second and then catches up; the
/// smallest and largest second show it.
internal sealed class PerSecondSeries
{
    private readonly List<double> _rates = [];
    private long _lastValue;
    private long _lastTimestamp;

    /// The rates, in messages per second, one per interval since <see cref="Start"/>.
    public IReadOnlyList<double> Rates => _rates;

    public void Start(long value, long timestamp)
    {
        _rates.Clear();
        _lastValue = value;
        _lastTimestamp = timestamp;
    }

    /// The total at <paramref name="timestamp"/> (Stopwatch ticks): the rate since the previous reading,
    /// over the time that really passed (a timer on a busy machine fires late).
    public void Sample(long value, long timestamp)
    {
        var seconds = (double)(timestamp - _lastTimestamp) / Stopwatch.Frequency;
        if (seconds <= 0)
            return;
        _rates.Add((value - _lastValue) / seconds);
        _lastValue = value;
        _lastTimestamp = timestamp;
    }
}

/// The smallest, middle and largest of a per-second series.
public readonly record struct RateSpread(double Min, double Median, double Max)
{
    /// Null for an empty series (a window shorter than a second).
    public static RateSpread? Of(IReadOnlyList<double> rates)
    {
        if (rates.Count == 0)
            return null;
        var sorted = rates.Order().ToArray();
        var middle = sorted.Length / 2;
        var median = sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
        return new RateSpread(sorted[0], median, sorted[^1]);
    }
}
