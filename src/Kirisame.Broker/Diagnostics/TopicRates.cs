namespace Kirisame.Broker.Diagnostics;

/// Estimated message rates per topic, for the topic tree of the management API and the console. Not for the
/// meter: a metric label per topic would be unbounded (docs/adr/0011-management-and-metrics.md).
///
/// Bounded and sampled so that the publish path pays for it only in a thread-local countdown:
/// - The broker counts one accepted PUBLISH in every <c>interval</c> on average, chosen at random per thread
///   (a fixed stride would see only one topic of a client that publishes to a cycle of topics in step with it).
///   A sample takes a lock and counts its topic in a table of at most <see cref="_capacity"/> topics; topics
///   beyond it in a window are counted as untracked.
/// - Counts are kept per window (Broker:TopicRateWindow, 10 s), each sample weighing the interval it was drawn
///   with; rates are the last complete window's sums ÷ its length, an unbiased estimate. At each new window the
///   interval is set so that the next one takes about <see cref="TargetSamples"/> samples: a lightly loaded
///   broker counts every message (interval 1, exact), one taking a million a second samples one in a few hundred.
/// A sample costs a lock and a dictionary look-up, which is why the interval rises with the load.
internal sealed class TopicRates : IDisposable
{
    /// About a thousand samples a second: enough to rank a few thousand topics, cheap at any rate.
    internal const int TargetSamples = 10_000;

    private const int MaxInterval = 4_096;

    // A thread's countdown belongs to one instance (an embedding process may run several brokers) and to the
    // interval it was drawn for: when the load falls to interval 1, a distance drawn for 40 must not skip messages
    // that are now counted one by one.
    [ThreadStatic] private static TopicRates? t_owner;
    [ThreadStatic] private static int t_countdownInterval;
    [ThreadStatic] private static int t_countdown;
    [ThreadStatic] private static uint t_random;

    private readonly int _capacity;
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private readonly Lock _lock = new();
    // Estimated messages by topic: each sample weighs the interval it was drawn with.
    private Dictionary<string, long> _current = new(StringComparer.Ordinal);
    private Dictionary<string, long> _previous = new(StringComparer.Ordinal);
    private long _windowStart;
    private long _currentSamples;
    private long _currentUntracked;
    private long _previousUntracked;
    private int _previousInterval = 1;
    private TimeSpan _previousLength;

    // Read without the lock by publishing threads: a stale value only changes the next sample's distance.
    private volatile int _interval = 1;

    /// Windows end on a timer of <paramref name="time"/>, so that the first messages of a window are counted with
    /// that window's interval (a window ended only by the next sample would count them with the last one's).
    public TopicRates(int capacity, TimeSpan window, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, TimeSpan.FromMilliseconds(1));
        _capacity = capacity;
        _time = time;
        _windowStart = time.GetTimestamp();
        _timer = time.CreateTimer(_ => Rotate(), null, window, window);
    }

    /// An accepted PUBLISH to <paramref name="topic"/>. The hot path: a thread-local decrement and two compares unless sampled.
    public void Published(string topic)
    {
        var interval = _interval;
        if (--t_countdown > 0 && t_countdownInterval == interval && ReferenceEquals(t_owner, this))
            return;
        t_owner = this;
        t_countdownInterval = interval;
        t_countdown = NextDistance(interval);
        Sample(topic, interval);
    }

    /// The next sample's distance: uniform in [1, 2 × interval − 1], mean <paramref name="interval"/>.
    private static int NextDistance(int interval)
    {
        if (interval == 1)
            return 1;
        var x = t_random;
        if (x == 0)
            x = (uint)Environment.CurrentManagedThreadId * 2654435761u | 1;
        // xorshift32: a thread's own sequence, no shared state.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        t_random = x;
        return 1 + (int)(x % (uint)(2 * interval - 1));
    }

    private void Sample(string topic, int weight)
    {
        lock (_lock)
        {
            _currentSamples++;
            if (_current.TryGetValue(topic, out var count))
                _current[topic] = count + weight;
            else if (_current.Count < _capacity)
                _current[topic] = weight;
            else
                _currentUntracked += weight;
        }
    }

    /// Ends the window: it becomes the one reported, and the next one's interval is chosen from its load.
    private void Rotate()
    {
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            long estimated = _currentUntracked;
            foreach (var count in _current.Values)
                estimated += count;

            (_previous, _current) = (_current, _previous);
            _current.Clear();
            _previousUntracked = _currentUntracked;
            _currentUntracked = 0;
            _previousInterval = _currentSamples == 0 ? _interval : (int)Math.Max(1, estimated / _currentSamples);
            _currentSamples = 0;
            _previousLength = _time.GetElapsedTime(_windowStart, now);
            _windowStart = now;
            _interval = (int)Math.Clamp((estimated + TargetSamples - 1) / TargetSamples, 1, MaxInterval);
        }
    }

    /// The rates of the last complete window (empty in the first one).
    public TopicRateSnapshot Snapshot()
    {
        lock (_lock)
        {
            var seconds = _previousLength.TotalSeconds;
            var rates = new Dictionary<string, double>(_previous.Count, StringComparer.Ordinal);
            if (seconds <= 0)
                return new TopicRateSnapshot(rates, 0, _interval, _previousLength);
            foreach (var (topic, count) in _previous)
                rates[topic] = count / seconds;
            return new TopicRateSnapshot(rates, _previousUntracked / seconds, _previousInterval, _previousLength);
        }
    }

    public void Dispose() => _timer.Dispose();
}

/// Estimated messages per second by topic over <paramref name="Window"/>; <paramref name="UntrackedPerSecond"/>:
/// messages to topics beyond the table's capacity; <paramref name="SampleInterval"/>: one message in that many
/// was counted (1: every one, the rates are exact counts over the window).
public sealed record TopicRateSnapshot(IReadOnlyDictionary<string, double> PerSecond, double UntrackedPerSecond, int SampleInterval,
    TimeSpan Window);
