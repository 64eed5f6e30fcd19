using Kirisame.Broker;
using Kirisame.Management;
using Kirisame.Transport;
using Kirisame.Transport.Listeners;
using Kirisame.Transport.Tls;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;

namespace Kirisame.Server;

/// Wires the management listener (Kirisame.Management) to this server: the broker, the MQTT listeners and
/// the host's start-up for readiness, the configuration to show, the Security section's login guard, and
/// the MQTT listeners' certificate handling for HTTPS.
internal static class ManagementSetup
{
    /// The management server, or null with errors (a password or token file that cannot be used) — or null
    /// without any when it is turned off. Call after security is set up: it resolves the broker.
    public static ManagementServer? Create(ServerConfiguration configuration, IServiceProvider services, MeterProvider? metrics, ISecurityAdmin? security,
        ITenantAdmin? tenants, IReadOnlyList<ListenerSecurity> listenerSecurity, List<string> errors)
    {
        var options = configuration.Management;
        if (!options.Enabled)
            return null;
        var loggers = services.GetRequiredService<ILoggerFactory>();
        var lifetime = services.GetRequiredService<IHostApplicationLifetime>();
        var listeners = services.GetRequiredService<MqttListeners>();
        var expected = configuration.AllListeners.Count();
        var context = new ManagementContext
        {
            Broker = services.GetRequiredService<MqttBroker>(),
            LoggerFactory = loggers,
            Metrics = metrics,
            LoginGuard = configuration.Security,
            Listeners = () => [.. listeners.Bound.Select(l => new ListenerDescription(l.Name, l.Protocol.ToString().ToLowerInvariant(), $"{l.EndPoint}{l.Path}"))],
            Readiness = () => Readiness(lifetime, listeners, expected, services.GetService<Kirisame.Cluster.ClusterNode>()),
            Configuration = configuration.Effective,
            Security = security,
            ListenerAdmin = new LiveListenerAdministration(services.GetRequiredService<Transport.Live.LiveListeners>(), listenerSecurity),
            Logging = new Logging.RuntimeLogLevels(configuration.Root, configuration.Runtime),
            TenantAdmin = tenants,
            Cluster = services.GetService<Kirisame.Cluster.ClusterStatus>() is { } cluster ? () => DescribeClusterAsync(cluster) : null,
            Tls = options.IsHttps ? HttpsCertificates.Create(HttpsListener(options), loggers.CreateLogger("Kirisame.Management")) : null,
        };
        return ManagementServer.Create(options, context, errors);
    }

    private static async Task<ClusterDescription> DescribeClusterAsync(Kirisame.Cluster.ClusterStatus cluster) =>
        new(cluster.Name, [.. (await cluster.MembersAsync()).Select(m => new ClusterNodeDescription(m.Address, m.Status, m.Self, m.ConnectedClients))]);

    /// The host has started only once every listener is bound (a failed bind stops it), and stops being ready
    /// as soon as it begins to stop.
    private static List<ReadinessCheck> Readiness(IHostApplicationLifetime lifetime, MqttListeners listeners, int expected, Kirisame.Cluster.ClusterNode? cluster)
    {
        var started = lifetime.ApplicationStarted.IsCancellationRequested;
        var stopping = lifetime.ApplicationStopping.IsCancellationRequested;
        var bound = listeners.Bound;
        var listening = started && bound.Count >= expected;
        List<ReadinessCheck> checks =
        [
            new("listeners", listening, listening
                ? $"{bound.Count} bound: {string.Join(", ", bound.Select(l => $"{l.Name} {l.EndPoint}"))}"
                : $"starting: {(started ? bound.Count : 0)} of {expected} bound"),
            new("broker", !stopping, stopping ? "shutting down" : "running"),
        ];
        // A node cut off from the membership refuses new connections: not ready, so a load balancer sends them elsewhere.
        if (cluster is not null)
        {
            var refusal = cluster.ConnectRefusal;
            checks.Add(new("cluster", refusal is null, refusal ?? $"node {cluster.SiloAddress}, {cluster.PeerCount} other node(s)"));
        }

        return checks;
    }

    /// The management listener's TLS settings in the form the MQTT listeners' TLS code reads.
    private static ListenerOptions HttpsListener(ManagementOptions options) => new()
    {
        Name = ManagementOptions.SectionName,
        Protocol = ListenerProtocol.Wss,
        Certificate = options.Certificate,
        PrivateKey = options.PrivateKey,
        CertificatePassword = options.CertificatePassword,
    };
}
