namespace Kirisame.Bench.Measurement;

/// A process's VmRSS over a run: the first sample, the largest, the last. The peak is what a before/after
/// pair misses: a broker's queues can fill during the window and be drained again by the end.
public sealed record RssSummary(long Start, long Peak, long End, int Samples)
{
    /// What the run left behind: End − Start (negative when the broker gave memory back).
    public long Growth => End - Start;
}

/// Folds RSS samples into an <see cref="RssSummary"/>; the sampler's arithmetic, apart from its timer.
internal sealed class RssTrack
{
    private long _start;
    private long _peak;
    private long _end;
    private int _samples;

    public void Add(long bytes)
    {
        if (_samples == 0)
            _start = bytes;
        _peak = Math.Max(_peak, bytes);
        _end = bytes;
        _samples++;
    }

    public int Samples => _samples;

    /// Null when no sample could be read (the process had gone, or /proc is not there).
    public RssSummary? Summary => _samples == 0 ? null : new RssSummary(_start, _peak, _end, _samples);
}

/// Reads a process's VmRSS (/proc/PID/status) when started, once per <see cref="Interval"/> while the run
/// goes on, and once more when stopped. A sample that cannot be read is skipped, not counted as zero.
internal sealed class RssSampler : IAsyncDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly Func<long?> _read;
    private readonly RssTrack _track = new();
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private bool _stopped;

    internal RssSampler(Func<long?> read)
    {
        _read = read;
        Sample();
        _loop = LoopAsync();
    }

    public static RssSampler Start(int pid) => new(() => BrokerProcess.ReadRss(pid));

    /// The first sample, taken when the sampler started; null when it could not be read.
    public long? First
    {
        get
        {
            lock (_gate)
                return _track.Summary?.Start;
        }
    }

    /// Samples taken so far.
    public int SamplesSoFar
    {
        get
        {
            lock (_gate)
                return _track.Samples;
        }
    }

    /// Ends the timer and takes the last sample (the first call only); the summary covers every sample taken.
    public async Task<RssSummary?> StopAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await _stop.CancelAsync();
            await _loop;
            Sample();
        }

        lock (_gate)
            return _track.Summary;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private async Task LoopAsync()
    {
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
                Sample();
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Sample()
    {
        if (_read() is not { } bytes)
            return;
        lock (_gate)
            _track.Add(bytes);
    }
}
