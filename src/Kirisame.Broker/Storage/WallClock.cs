namespace Kirisame.Broker.Storage;

/// The broker times things with monotonic <see cref="TimeProvider"/> timestamps; a store must keep wall-clock
/// times instead, so that expiry (sessions, messages, delayed wills) continues across an outage.
public static class WallClock
{
    public static long ToUnixMs(TimeProvider time, long timestamp)
        => time.GetUtcNow().ToUnixTimeMilliseconds() - (long)time.GetElapsedTime(timestamp).TotalMilliseconds;

    /// A timestamp for a past (or future) wall-clock time, relative to now.
    public static long FromUnixMs(TimeProvider time, long unixMs) => WallClockAnchor.Now(time).FromUnixMs(unixMs);
}

/// "Now" read once on both clocks, for converting many stored times: start-up converts a million, and
/// reading the clocks for each one was a third of the restart time.
public readonly struct WallClockAnchor
{
    private readonly long _unixMs;
    private readonly long _timestamp;
    private readonly double _ticksPerMs;

    private WallClockAnchor(TimeProvider time)
    {
        _unixMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        _timestamp = time.GetTimestamp();
        _ticksPerMs = time.TimestampFrequency / 1000.0;
    }

    public static WallClockAnchor Now(TimeProvider time) => new(time);

    /// A timestamp for a past (or future) wall-clock time, relative to the anchor.
    public long FromUnixMs(long unixMs) => _timestamp - (long)((_unixMs - unixMs) * _ticksPerMs);
}
