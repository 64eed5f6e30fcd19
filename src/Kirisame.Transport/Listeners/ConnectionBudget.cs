using Microsoft.Extensions.Logging;

namespace Kirisame.Transport.Listeners;

/// How many connections the broker admits across all listeners: Transport:MaxConnections when set, but
/// never more than the descriptor limit leaves once the broker's own files are set aside. Without it, a
/// flood of idle clients took the process to EMFILE and the runtime or the store died of it, taking every
/// connected client along; with it, the connection over the budget is the one that is refused.
internal readonly record struct ConnectionBudget
{
    /// Descriptors the process holds whatever the load: about 150 for a started in-memory broker (each
    /// loaded assembly stays open, twice; epoll, pipes, the console, the listening sockets), more as TLS,
    /// WebSocket and reload code loads. 256 covers that with room to spare.
    public const int MinimumReserve = 256;

    /// A twentieth of the limit is kept back when that is more than the floor: margin for what grows with
    /// load rather than being fixed (a refused connection holds its descriptor between accept and close, a
    /// closing one until its socket is released, files opened to reload certificates and password files).
    public const int ReserveDivisor = 20;

    /// Configured 0 (the default), or more than the limit allows: the effective value.
    public int MaxConnections { get; private init; }

    /// Transport:MaxConnections as configured (0: derive it).
    public int Configured { get; private init; }

    /// RLIMIT_NOFILE, or null when not known (not Linux) or unlimited.
    public long? DescriptorLimit { get; private init; }

    /// Descriptors set aside for everything but connections (0 when the limit is not known).
    public int Reserved { get; private init; }

    /// What the descriptor limit allows (int.MaxValue when it is not known).
    public int Allowed { get; private init; }

    /// The limit was so low that the reserve did not fit: the budget was cut to a quarter of it instead.
    public bool LimitTooLow { get; private init; }

    /// <paramref name="storeDescriptors"/>: what the store may hold open at most (RocksDB's bounded table
    /// cache, its logs), 0 for none.
    public static ConnectionBudget Compute(long? descriptorLimit, int configured, int storeDescriptors)
    {
        if (descriptorLimit is not { } limit)
            return new() { MaxConnections = configured, Configured = configured, Allowed = int.MaxValue };

        var reserved = (int)Math.Min(storeDescriptors + Math.Max(MinimumReserve, limit / ReserveDivisor), int.MaxValue);
        var allowed = limit - reserved;
        // A limit this low is a test or a mistake, and a broker that admits nobody looks broken rather than
        // limited: keep a quarter of it for connections and say so. The reserve is a worst case (a store
        // with hundreds of table files), rarely reached by a store on so small a machine.
        var tooLow = allowed < limit / 4;
        if (tooLow)
            allowed = Math.Max(1, limit / 4);
        var capped = (int)Math.Min(allowed, int.MaxValue);
        return new()
        {
            MaxConnections = configured > 0 ? Math.Min(configured, capped) : capped,
            Configured = configured,
            DescriptorLimit = limit,
            Reserved = reserved,
            Allowed = capped,
            LimitTooLow = tooLow,
        };
    }

    /// True when Transport:MaxConnections asked for more than the descriptor limit allows.
    public bool ConfiguredTooHigh => Configured > Allowed;

    /// One start-up line: the effective limit and where it comes from; a warning when the configured value
    /// or the descriptor limit had to give way.
    public void Log(ILogger logger)
    {
        if (DescriptorLimit is not { } limit)
        {
            if (MaxConnections > 0)
                logger.LogInformation("Maximum connections: {Max} (Transport:MaxConnections; descriptor limit not known)", MaxConnections);
            else
                logger.LogInformation("Maximum connections: no limit (descriptor limit not known or unlimited)");
            return;
        }

        if (LimitTooLow)
            logger.LogWarning("The descriptor limit {Limit} is too low to keep {Reserved} descriptors for the broker's own files; connections are capped at a quarter of it. Raise it (ulimit -n, systemd LimitNOFILE)", limit, Reserved);
        if (ConfiguredTooHigh)
            logger.LogWarning("Transport:MaxConnections {Configured} is more than the descriptor limit allows: using {Max} (descriptor limit {Limit}, {Reserved} reserved). Raise the limit (ulimit -n, systemd LimitNOFILE) to allow more", Configured, MaxConnections, limit, Reserved);
        else if (Configured > 0)
            logger.LogInformation("Maximum connections: {Max} (Transport:MaxConnections; descriptor limit {Limit} allows {Allowed})", MaxConnections, limit, Allowed);
        else
            logger.LogInformation("Maximum connections: {Max} (descriptor limit {Limit}, {Reserved} reserved)", MaxConnections, limit, Reserved);
    }
}
