namespace Kirisame.Bench.Clients;

/// Shared by every client of a run: whether the measurement window is open (latency is recorded only then).
internal sealed class RunClock
{
    private volatile bool _measuring;

    public bool Measuring
    {
        get => _measuring;
        set => _measuring = value;
    }
}
