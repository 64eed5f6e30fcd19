namespace Kirisame.Broker.Diagnostics;

/// Counters shown in $SYS (and later in metrics and the console). Updated with Interlocked, read racily.
public sealed class BrokerStatistics
{
    public long MessagesReceived;
    public long MessagesSent;
    public long MessagesDropped;
    public long BytesReceived;
    public long BytesSent;
    public long ClientsConnected;
    public long ClientsMaximum;
    public long ConnectionsTotal;

    /// Connections closed because serving them threw (a bug, or an input nothing else caught): each is logged
    /// and closed, and the broker carries on.
    public long ConnectionFaults;

    public void ClientConnected()
    {
        var now = Interlocked.Increment(ref ClientsConnected);
        Interlocked.Increment(ref ConnectionsTotal);
        long max;
        while (now > (max = Volatile.Read(ref ClientsMaximum)) && Interlocked.CompareExchange(ref ClientsMaximum, now, max) != max)
        {
        }
    }

    public void ClientDisconnected() => Interlocked.Decrement(ref ClientsConnected);
}

/// Exponentially weighted moving averages of a counter's rate per minute, as in Mosquitto's load figures.
internal sealed class LoadAverage
{
    private long _lastCount;
    private bool _started;

    public double OneMinute { get; private set; }

    public double FiveMinutes { get; private set; }

    public double FifteenMinutes { get; private set; }

    public void Update(long count, double intervalSeconds)
    {
        if (intervalSeconds <= 0)
            return;
        var perMinute = (count - _lastCount) * 60.0 / intervalSeconds;
        _lastCount = count;
        if (!_started)
        {
            _started = true;
            OneMinute = FiveMinutes = FifteenMinutes = perMinute;
            return;
        }

        OneMinute = Smooth(OneMinute, perMinute, intervalSeconds, 60);
        FiveMinutes = Smooth(FiveMinutes, perMinute, intervalSeconds, 300);
        FifteenMinutes = Smooth(FifteenMinutes, perMinute, intervalSeconds, 900);
    }

    private static double Smooth(double previous, double sample, double interval, double window)
    {
        var factor = Math.Exp(-interval / window);
        return (previous * factor) + (sample * (1 - factor));
    }
}
