using System.Net;
using Microsoft.Extensions.Logging;

namespace Kirisame.MqttSn.Diagnostics;

/// Log lines anyone can cause by sending a datagram (malformed, from an unknown address, a refusal) are written at
/// most once a second per kind; the rest are counted and summed up in the next line or at the sweep. A flood
/// of spoofed datagrams then costs one line a second, and the state is one entry per kind (a bounded set).
internal sealed partial class SnLogThrottle(TimeProvider time, ILogger logger)
{
    private static readonly TimeSpan s_window = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, (long Since, long Suppressed)> _kinds = new(StringComparer.Ordinal);

    public void Log(string kind, IPEndPoint from, string what)
    {
        long suppressed;
        lock (_lock)
        {
            var now = time.GetTimestamp();
            if (_kinds.TryGetValue(kind, out var entry) && time.GetElapsedTime(entry.Since, now) < s_window)
            {
                _kinds[kind] = (entry.Since, entry.Suppressed + 1);
                return;
            }
            suppressed = entry.Suppressed;
            _kinds[kind] = (now, 0);
        }

        if (suppressed > 0)
            LogWithSuppressed(logger, kind, from, what, suppressed);
        else
            LogLine(logger, kind, from, what);
    }

    /// Sums up what a quiet period left counted.
    public void Flush()
    {
        List<(string Kind, long Count)>? due = null;
        lock (_lock)
        {
            var now = time.GetTimestamp();
            foreach (var (kind, entry) in _kinds)
            {
                if (entry.Suppressed > 0 && time.GetElapsedTime(entry.Since, now) >= s_window)
                    (due ??= []).Add((kind, entry.Suppressed));
            }
            foreach (var (kind, _) in due ?? [])
                _kinds[kind] = (now, 0);
        }

        foreach (var (kind, count) in due ?? [])
            LogSummary(logger, count, kind);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT-SN {Kind} from {EndPoint}: {What}")]
    private static partial void LogLine(ILogger logger, string kind, IPEndPoint endPoint, string what);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT-SN {Kind} from {EndPoint}: {What} ({Suppressed} more of this kind not logged)")]
    private static partial void LogWithSuppressed(ILogger logger, string kind, IPEndPoint endPoint, string what, long suppressed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT-SN: {Count} more '{Kind}' not logged in the last second")]
    private static partial void LogSummary(ILogger logger, long count, string kind);
}
