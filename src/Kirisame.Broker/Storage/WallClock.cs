namespace Kirisame.Broker.Storage;

/// The broker times things with monotonic <see cref="TimeProvider"/> timestamps; a store must keep wall-clock
/// times instead, so that expiry (sessions, messages, delayed wills) continues across an outage.
public static class WallClock
{
    public static long ToUnixMs(TimeProvider time, long timestamp)
        => time.GetUtcNow().ToUnixTimeMilliseconds() - (long)time.GetElapsedTime(timestamp).TotalMilliseconds;

    /// A timestamp for a past (or future) wall-clock time, relative to now.
    public static long FromUnixMs(TimeProvider time, long unixMs)
    {
        var ageMs = time.GetUtcNow().ToUnixTimeMilliseconds() - unixMs;
        return time.GetTimestamp() - (long)(ageMs * (double)time.TimestampFrequency / 1000);
    }
}
