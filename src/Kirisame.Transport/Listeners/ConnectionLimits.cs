using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;

namespace Kirisame.Transport.Listeners;

/// Why a connection was refused on accept.
internal enum RefusalCause
{
    /// Open connections across all listeners reached the budget (Transport:MaxConnections or what the
    /// descriptor limit allows).
    MaxConnections,

    /// Listeners:NAME:MaxConnections.
    ListenerMaxConnections,

    /// Transport:MaxConnectRatePerAddress.
    ConnectRate,
}

/// Connection-level limits, checked when a connection is accepted and before any TLS or HTTP work: open
/// connections in total (<paramref name="maxConnections"/>, the effective budget: 0 is no limit) and per
/// listener, and a token bucket of new connections per source address. Refusals are counted by cause and
/// reported in a throttled warning.
internal sealed class ConnectionLimits(TransportOptions options, int maxConnections, TimeProvider time, ILogger logger)
{
    /// Addresses whose buckets are kept at most; past it, full (idle) buckets are dropped first.
    private const int MaxTrackedAddresses = 100_000;

    private static readonly TimeSpan s_pruneInterval = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<IPAddress, Bucket> _buckets = new();
    private readonly long[] _refused = new long[Enum.GetValues<RefusalCause>().Length];
    private readonly ThrottledWarning _refusals = new(logger, "Refused a connection", "connections refused", time, ThrottledWarning.DefaultInterval);
    private int _open;
    private long _lastPruneTicks;

    private sealed class Bucket
    {
        public double Tokens;
        public long UpdatedTicks;
    }

    public int Open => Volatile.Read(ref _open);

    /// The effective limit on open connections across all listeners; 0 is none.
    public int MaxConnections => maxConnections;

    /// Connections refused for <paramref name="cause"/> since start (for tests and metrics).
    public long Refused(RefusalCause cause) => Interlocked.Read(ref _refused[(int)cause]);

    /// Addresses with a bucket (for tests).
    public int TrackedAddresses => _buckets.Count;

    /// Returns null when admitted (the caller must then <see cref="Release"/>), else why not.
    public string? TryAdmit(MqttListener listener, EndPoint? remote)
    {
        if (options.MaxConnectRatePerAddress > 0 && remote is IPEndPoint ip && !TakeToken(ip.Address))
            return Refuse(RefusalCause.ConnectRate, $"more than {options.MaxConnectRatePerAddress}/s new connections from {ip.Address}");

        var total = Interlocked.Increment(ref _open);
        if (maxConnections > 0 && total > maxConnections)
        {
            Interlocked.Decrement(ref _open);
            return Refuse(RefusalCause.MaxConnections, $"Transport:MaxConnections ({maxConnections}) reached");
        }

        var mine = Interlocked.Increment(ref listener.Open);
        if (listener.Options.MaxConnections > 0 && mine > listener.Options.MaxConnections)
        {
            Interlocked.Decrement(ref listener.Open);
            Interlocked.Decrement(ref _open);
            return Refuse(RefusalCause.ListenerMaxConnections, $"Listeners:{listener.Name}:MaxConnections ({listener.Options.MaxConnections}) reached", listener.Name);
        }

        return null;
    }

    private string Refuse(RefusalCause cause, string why, string? listener = null)
    {
        Interlocked.Increment(ref _refused[(int)cause]);
        // Grouped by cause (and listener: a configured, small set), not by text: the rate-limit text names
        // the address, and a spray from many addresses must not grow the summary.
        _refusals.Report(listener is null ? cause.ToString() : $"{cause}:{listener}", why);
        return why;
    }

    public void Release(MqttListener listener)
    {
        Interlocked.Decrement(ref listener.Open);
        Interlocked.Decrement(ref _open);
    }

    private bool TakeToken(IPAddress address)
    {
        var now = time.GetTimestamp();
        if (!_buckets.TryGetValue(address, out var bucket))
        {
            if (_buckets.Count >= MaxTrackedAddresses)
            {
                // A scan of the whole table per new address would make a spray from many addresses cost
                // O(table) per accept; scan at most once a second. Addresses beyond the table are not
                // rate-limited (MaxConnections still caps them) rather than refused: fail open, as a full
                // table more likely means many real clients than one attacker with that many addresses.
                var last = Interlocked.Read(ref _lastPruneTicks);
                if (time.GetElapsedTime(last, now) >= s_pruneInterval && Interlocked.CompareExchange(ref _lastPruneTicks, now, last) == last)
                    Prune(now);
                if (_buckets.Count >= MaxTrackedAddresses)
                    return true;
            }

            bucket = _buckets.GetOrAdd(address, _ => new Bucket { Tokens = options.ConnectBurstPerAddress, UpdatedTicks = now });
        }

        lock (bucket)
        {
            Refill(bucket, now);
            if (bucket.Tokens < 1)
                return false;
            bucket.Tokens -= 1;
            return true;
        }
    }

    private void Refill(Bucket bucket, long now)
    {
        var elapsed = time.GetElapsedTime(bucket.UpdatedTicks, now).TotalSeconds;
        bucket.Tokens = Math.Min(options.ConnectBurstPerAddress, bucket.Tokens + elapsed * options.MaxConnectRatePerAddress);
        bucket.UpdatedTicks = now;
    }

    private void Prune(long now)
    {
        foreach (var (address, bucket) in _buckets)
        {
            bool full;
            lock (bucket)
            {
                Refill(bucket, now);
                full = bucket.Tokens >= options.ConnectBurstPerAddress;
            }

            if (full)
                _buckets.TryRemove(address, out _);
        }
    }
}
