using System.Net.Security;
using Kirisame.Broker;
using Kirisame.Broker.Security;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;

namespace Kirisame.Management;

/// What the management listener needs from the process that hosts it. The broker is the one source of what
/// it shows (its admin seam); what the broker does not know — listeners, start-up, configuration — comes from
/// the host as functions, read at each request.
public sealed class ManagementContext
{
    public required MqttBroker Broker { get; init; }

    public required ILoggerFactory LoggerFactory { get; init; }

    /// Exports the `Kirisame` meter at /metrics (<see cref="Telemetry.KirisameTelemetry"/>); /metrics answers 404 without it.
    public MeterProvider? Metrics { get; init; }

    /// Slowing and banning password guessing: the Security section's FailedLogin* settings, as for MQTT.
    public SecurityOptions LoginGuard { get; init; } = new();

    /// The MQTT listeners, for the overview.
    public Func<IReadOnlyList<ListenerDescription>> Listeners { get; init; } = () => [];

    /// What /health/ready checks besides the store: for the server, that it has started (every listener bound)
    /// and is not stopping.
    public Func<IReadOnlyList<ReadinessCheck>> Readiness { get; init; } = () => [];

    /// Section name → options object (or list of them), shown by /api/v1/configuration with passwords redacted.
    public Func<IReadOnlyDictionary<string, object?>> Configuration { get; init; } = () => new Dictionary<string, object?>();

    /// Users, ACL reload and bans for /api/v1/security; those endpoints answer 404 without it.
    public ISecurityAdmin? Security { get; init; }

    /// Listener changes at run time for POST/DELETE/PUT under /api/v1/listeners; they answer 404 without it.
    public IListenerAdmin? ListenerAdmin { get; init; }

    /// Adding tenants at run time (POST /api/v1/tenants); it answers 404 without it.
    public ITenantAdmin? TenantAdmin { get; init; }

    /// The members of the cluster this node is in, for GET /api/v1/cluster; without it (a single node) the answer has
    /// no name and no nodes.
    public Func<Task<ClusterDescription>>? Cluster { get; init; }

    /// Log levels at runtime for /api/v1/logging; it answers 404 without it.
    public IRuntimeLogLevels? Logging { get; init; }

    /// HTTPS: the TLS options of each new connection (the MQTT listeners' certificate handling, reloaded when the
    /// files change). Required when ManagementOptions.Certificate is set.
    public Func<SslServerAuthenticationOptions>? Tls { get; init; }
}

/// The cluster as one node sees it: its name (empty: not clustered) and its members that are not dead.
public sealed record ClusterDescription(string Name, IReadOnlyList<ClusterNodeDescription> Nodes);

/// One member: its silo address (with generation), Orleans status, whether it is the node answering, and its
/// connected network clients (null when it did not answer within a second).
public sealed record ClusterNodeDescription(string Address, string Status, bool Self, long? ConnectedClients);

/// An MQTT listener as the overview shows it.
public sealed record ListenerDescription(string Name, string Protocol, string EndPoint);

/// One line of /health/ready: <paramref name="Detail"/> says what is wrong, or what was checked.
public sealed record ReadinessCheck(string Name, bool Ready, string Detail);
