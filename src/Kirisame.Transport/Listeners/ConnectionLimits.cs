using System.Collections.Concurrent;
using System.Net;

namespace Kirisame.Transport.Listeners;

/// Connection-level limits, checked when a connection is accepted and before any TLS or HTTP work: open
/// connections in total and per listener, and a token bucket of new connections per source address.
internal sealed class ConnectionLimits(TransportOptions options, TimeProvider time)
{
    /// Addresses whose buckets are kept at most; past it, full (idle) buckets are dropped first.
    private const int MaxTrackedAddresses = 100_000;

    private static readonly TimeSpan s_pruneInterval = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<IPAddress, Bucket> _buckets = new();
    private int _open;
    private long _lastPruneTicks;

    private sealed class Bucket
    {
        public double Tokens;
        public long UpdatedTicks;
    }

    public int Open => Volatile.Read(ref _open);

    /// Addresses with a bucket (for tests).
    public int TrackedAddresses => _buckets.Count;

    /// Returns null when admitted (the caller must then <see cref="Release"/>), else why not.
    public string? TryAdmit(MqttListener listener, EndPoint? remote)
    {
        if (options.MaxConnectRatePerAddress > 0 && remote is IPEndPoint ip && !TakeToken(ip.Address))
            return $"more than {options.MaxConnectRatePerAddress}/s new connections from {ip.Address}";

        var total = Interlocked.Increment(ref _open);
        if (options.MaxConnections > 0 && total > options.MaxConnections)
        {
            Interlocked.Decrement(ref _open);
            return $"Transport:MaxConnections ({options.MaxConnections}) reached";
        }

        var mine = Interlocked.Increment(ref listener.Open);
        if (listener.Options.MaxConnections > 0 && mine > listener.Options.MaxConnections)
        {
            Interlocked.Decrement(ref listener.Open);
            Interlocked.Decrement(ref _open);
            return $"Listeners:{listener.Name}:MaxConnections ({listener.Options.MaxConnections}) reached";
        }

        return null;
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
