using System.Collections.Concurrent;
using System.IO.Pipelines;
using Kirisame.Broker.Admin;
using Kirisame.Broker.Clients;
using Kirisame.Broker.Diagnostics;
using Kirisame.Broker.Retained;
using Kirisame.Broker.Routing;
using Kirisame.Broker.Security;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;
using Kirisame.Broker.Tenants;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kirisame.Broker;

/// The broker: one per process (or per test). Transports hand it connections as duplex pipes.
/// Partial files: Sessions (attaching sessions, takeover, acknowledgements), Routing (publish, subscribe),
/// Housekeeping (timeouts, expiry, delayed wills, $SYS).
public sealed partial class MqttBroker : IAsyncDisposable, IBrokerAdmin
{
    private readonly ILogger _logger;
    private readonly ILogger _connectionLogger;

    /// The logger of every client connection (each one refers to the broker, so it does not keep one of its own).
    internal ILogger ConnectionLogger => _connectionLogger;
    private readonly ConnectionTable _connections = new();
    private readonly ConcurrentDictionary<InProcessClient, byte> _inProcessClients = new();
    private int _stopping;
    private Dictionary<string, IEnhancedAuthenticationMethod> _authenticationMethods;

    public MqttBroker(BrokerOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null,
        IAuthenticator? authenticator = null, IAuthorizer? authorizer = null, IEnumerable<IEnhancedAuthenticationMethod>? authenticationMethods = null,
        IBrokerStore? store = null, ISessionRegistry? sessionRegistry = null)
        : this(options, loggerFactory, timeProvider, authenticator, authorizer, authenticationMethods, store, sessionRegistry, tenant: null)
    {
    }

    /// <paramref name="tenant"/>: the core of one tenant (MqttBroker.Tenants.cs), which shares the operator's core's
    /// options, clock and memory budget for arriving packets, and nothing else.
    private MqttBroker(BrokerOptions options, ILoggerFactory? loggerFactory, TimeProvider? timeProvider,
        IAuthenticator? authenticator, IAuthorizer? authorizer, IEnumerable<IEnhancedAuthenticationMethod>? authenticationMethods,
        IBrokerStore? store, ISessionRegistry? sessionRegistry, TenantCore? tenant)
    {
        Store = store ?? InMemoryStore.Instance;
        SessionRegistry = sessionRegistry ?? new LocalSessionRegistry();
        _authenticationMethods = MethodsByName(authenticationMethods ?? []);
        Options = options;
        LoggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        TimeProvider = timeProvider ?? TimeProvider.System;
        Authenticator = authenticator ?? AllowAll.Instance;
        Authorizer = authorizer ?? AllowAll.Instance;
        _logger = LoggerFactory.CreateLogger(tenant is null ? "Kirisame.Broker" : "Kirisame.Tenant." + tenant.Limits.Tenant);
        _connectionLogger = LoggerFactory.CreateLogger("Kirisame.Connection");
        LogThrottle = new LogThrottle(TimeProvider);
        PartialPackets = tenant?.Operator.PartialPackets ?? new PartialPacketBudget(options.MaxPartialPacketBytes);
        StartedAtTicks = TimeProvider.GetTimestamp();
        Operator = tenant?.Operator;
        Limits = tenant?.Limits;
        // A tenant's counts are its own ($SYS in its namespace, the management API's tenant list); the exported
        // `Kirisame` meter stays the default tenant's, under a name no exporter subscribes to for the others.
        Metrics = new BrokerMetrics(this, tenant is null ? BrokerMetrics.MeterName : BrokerMetrics.MeterName + ".Tenant");
        BackPressure = new BackPressure(this, _logger);
        if (options.TopicRateTopics > 0)
            TopicRates = new TopicRates(options.TopicRateTopics, options.TopicRateWindow, TimeProvider);
    }

    public BrokerOptions Options { get; }

    public ILoggerFactory LoggerFactory { get; }

    public TimeProvider TimeProvider { get; }

    /// Replaced only for a tenant's core, when its password or ACL file changes (MqttBroker.Tenants.cs).
    public IAuthenticator Authenticator { get; private set; }

    public IAuthorizer Authorizer { get; private set; }

    public BrokerStatistics Statistics { get; } = new();

    /// What clients can make the broker log is written at most once a minute per kind and address.
    internal LogThrottle LogThrottle { get; }

    /// Bytes of packets still arriving, across all connections (Broker:MaxPartialPacketBytes).
    internal PartialPacketBudget PartialPackets { get; }

    /// The `Kirisame` meter and the per-reason counting behind it (docs/metrics.md).
    internal BrokerMetrics Metrics { get; }

    /// Ingest back-pressure: when publishers wait, and which consumers count as slow.
    internal BackPressure BackPressure { get; }

    /// Estimated per-topic rates for the topic tree (Broker:TopicRateTopics; null when 0).
    internal TopicRates? TopicRates { get; }

    /// The admin surface: clients, sessions, subscriptions, retained messages; disconnect and delete.
    public IBrokerAdmin Admin => this;

    /// Where persistent state goes (see <see cref="IBrokerStore"/>); in memory unless configured.
    public IBrokerStore Store { get; }

    /// Who holds each client id, with takeover epochs (see <see cref="ISessionRegistry"/>); this process's own
    /// unless configured (a cluster's).
    public ISessionRegistry SessionRegistry { get; }

    internal IEnhancedAuthenticationMethod? FindAuthenticationMethod(string name) => _authenticationMethods.GetValueOrDefault(name);

    private static Dictionary<string, IEnhancedAuthenticationMethod> MethodsByName(IEnumerable<IEnhancedAuthenticationMethod> methods) =>
        methods.ToDictionary(m => m.Name, StringComparer.Ordinal);

    internal SubscriptionTree Subscriptions { get; } = new();

    internal RetainedStore Retained { get; } = new();

    /// The cluster node this broker is part of (docs/adr/0020); null in a single node. Set before the listeners start.
    internal IClusterHooks? Cluster { get; set; }

    public long StartedAtTicks { get; }

    public static string Version { get; } = typeof(MqttBroker).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// Serves one client connection until it closes. Returns when the connection is finished with; the
    /// transport then closes the socket. <paramref name="cancellationToken"/> is the transport's "connection
    /// closed" signal: what was received before it is still handled (the connection ends with its input).
    public Task RunConnectionAsync(IDuplexPipe transport, ConnectionInfo info, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _stopping) != 0)
            return Task.CompletedTask;
        var connection = new ClientConnection(this, transport, info);
        _connections.Add(connection);
        return cancellationToken.CanBeCanceled ? RunUntilClosedAsync(connection, cancellationToken) : connection.RunAsync();

        // Kestrel's connections have a "closed" token; our own transport's do not (it ends the input instead). Only
        // those that have one pay for its registration, held here rather than by every connection.
        static async Task RunUntilClosedAsync(ClientConnection connection, CancellationToken transportClosed)
        {
            await using var registration = transportClosed.Register(static state => ((ClientConnection)state!).OnTransportClosed(), connection);
            await connection.RunAsync();
        }
    }

    internal bool IsStopping => Volatile.Read(ref _stopping) != 0;

    internal void InProcessConnected(InProcessClient client) => _inProcessClients.TryAdd(client, 0);

    internal void InProcessDisconnected(InProcessClient client) => _inProcessClients.TryRemove(client, out _);

    /// Graceful shutdown: v5 clients get DISCONNECT 0x8B, queued writes are flushed, connections closed.
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopping, 1) != 0)
            return;
        _housekeeping?.Dispose();
        var closing = new List<Task>();
        foreach (var connection in _connections.Slots)
        {
            if (connection is null)
                continue;
            connection.SuppressWill();
            connection.RequestClose(Protocol.ReasonCode.ServerShuttingDown);
            closing.Add(connection.Finished);
        }

        foreach (var client in _inProcessClients.Keys)
        {
            // The broker's own $SYS publisher among them. No will: as for network clients at shutdown.
            client.Close(Protocol.ReasonCode.ServerShuttingDown, publishWill: false);
            closing.Add(client.Disconnected);
        }

        if (Tenants is { } tenants)
            closing.Add(tenants.StopAllAsync(cancellationToken));
        _logger.LogInformation("Broker stopping: closing {Count} connections", _connections.Count);
        await Task.WhenAny(Task.WhenAll(closing), Task.Delay(TimeSpan.FromSeconds(5), TimeProvider, cancellationToken));
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
        if (Tenants is { } tenants)
            await tenants.DisposeStoresAsync();
        Metrics.Dispose();
        TopicRates?.Dispose();
    }
}
