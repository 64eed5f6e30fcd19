namespace Kirisame.Broker.Tenants;

/// A tenant's quotas and the counts they are checked against. Only a tenant's broker core has one, so the
/// default tenant's paths pay one null check for it (docs/adr/0021-tenants.md).
internal sealed class TenantLimits(string tenant, TenantQuotas quotas, TimeProvider time)
{
    private TenantQuotas _quotas = quotas;
    private int _connections;
    private readonly Lock _rate = new();
    private long _rateTicks;
    private double _tokens;
    private volatile bool _queueFull;
    private int _removed;

    public string Tenant { get; } = tenant;

    /// Replaced as a whole when an operator changes them; read once per check.
    public TenantQuotas Quotas
    {
        get => Volatile.Read(ref _quotas);
        set => Volatile.Write(ref _quotas, value);
    }

    public int Connections => Volatile.Read(ref _connections);

    /// Counts a connection in, unless the tenant is at its connection quota. Each success is matched by one
    /// <see cref="ConnectionClosed"/>.
    public bool TryOpenConnection()
    {
        while (true)
        {
            var now = Volatile.Read(ref _connections);
            if (Quotas.MaxConnections is { } max && now >= max)
                return false;
            if (Interlocked.CompareExchange(ref _connections, now + 1, now) == now)
                return true;
        }
    }

    public void ConnectionClosed() => Interlocked.Decrement(ref _connections);

    /// One PUBLISH against the tenant's message rate: a token bucket holding one second's worth (at least one
    /// message), so a burst up to the rate passes and a sustained excess does not.
    public bool TakeMessage()
    {
        if (Quotas.MaxMessagesPerSecond is not { } rate)
            return true;
        lock (_rate)
        {
            var now = time.GetTimestamp();
            var capacity = Math.Max(1, rate);
            _tokens = _rateTicks == 0 ? capacity : Math.Min(capacity, _tokens + (time.GetElapsedTime(_rateTicks, now).TotalSeconds * rate));
            _rateTicks = now;
            if (_tokens < 1)
                return false;
            _tokens--;
            return true;
        }
    }

    /// The tenant was removed (its state waits out the grace period): a connection that was mapped to it just before
    /// must not stay. Set before its clients are disconnected; a connection checks it after joining the core, so one
    /// of the two sees the other.
    public bool Removed
    {
        get => Volatile.Read(ref _removed) != 0;
        set => Interlocked.Exchange(ref _removed, value ? 1 : 0); // a full fence: the walk of the clients comes after
    }

    /// Set by the tenant's housekeeping once a second from the sum of its sessions' pending bytes: summing on every
    /// PUBLISH would cost the publish path a walk over the sessions, so the check may lag the queues by a second.
    public bool QueueFull
    {
        get => _queueFull;
        set => _queueFull = value;
    }
}
