using Kirisame.Broker;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;
using Kirisame.Broker.Tenants;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Kirisame.Cluster;

/// Tenants in a cluster (docs/adr/0021, "In a cluster"): each tenant's core is a <see cref="ClusterNode"/> of its own,
/// linked only to the same tenant's node on the other nodes (its inbox grain is keyed "address/tenant"), with its own
/// store wrapper (acknowledgements, retained replication) and its share of the client-id registry. Tenants made before
/// the silo is up (the tenants file, read when the broker is built) join once the default node has started.
internal sealed class ClusterTenants(IGrainFactory grains, ILocalSiloDetails silo, ILoggerFactory loggers) : ITenantCluster
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ClusterNode> _nodes = new(StringComparer.Ordinal);
    private readonly List<MqttBroker> _waiting = [];
    private readonly ILogger _logger = loggers.CreateLogger("Kirisame.Cluster");
    private ClusterNode? _default;

    public (IBrokerStore Store, ISessionRegistry Registry) Prepare(string tenant, IBrokerStore? store) =>
        (new ClusterStore(store ?? InMemoryStore.Instance), new ClusterSessionRegistry(grains, silo.SiloAddress.ToParsableString(), _logger, tenant));

    public void Join(MqttBroker core)
    {
        lock (_lock)
        {
            if (_default is null)
            {
                _waiting.Add(core);
                return;
            }
        }

        Start(core);
    }

    public async Task LeaveAsync(MqttBroker core)
    {
        ClusterNode? node;
        lock (_lock)
        {
            _waiting.Remove(core);
            if (!_nodes.Remove(core.TenantName!, out node) || node.Broker != core)
                return;
        }

        await node.StopAsync(evacuate: false); // removed: its sessions are deleted with it, not handed on
        node.Dispose();
        _logger.LogInformation("Cluster: tenant {Tenant} left the cluster", core.TenantName);
    }

    /// The node of <paramref name="tenant"/> here, for an inbox grain's call; null while this node does not have it.
    public ClusterNode? Find(string tenant)
    {
        lock (_lock)
            return _nodes.GetValueOrDefault(tenant);
    }

    /// Every tenant's node here now.
    public List<ClusterNode> All()
    {
        lock (_lock)
            return [.. _nodes.Values];
    }

    /// The default node is up: the tenants waiting for it join.
    public void DefaultStarted(ClusterNode @default)
    {
        List<MqttBroker> waiting;
        lock (_lock)
        {
            _default = @default;
            waiting = [.. _waiting];
            _waiting.Clear();
        }

        foreach (var core in waiting)
            Start(core);
    }

    /// The server stops: every tenant's node, before the default one and before the tenants' cores and stores.
    public async Task StopAsync()
    {
        List<ClusterNode> nodes;
        lock (_lock)
            nodes = [.. _nodes.Values];
        // Still found by their inbox while they stop: the nodes adopting their persistent sessions call back for them.
        await Task.WhenAll(nodes.Select(node => node.StopAsync()));
        lock (_lock)
        {
            foreach (var node in nodes)
                _nodes.Remove(node.Tenant!);
        }

        foreach (var node in nodes)
            node.Dispose();
    }

    private void Start(MqttBroker core)
    {
        var node = new ClusterNode(_default!, core, (ClusterStore)core.Store, (ClusterSessionRegistry)core.SessionRegistry);
        lock (_lock)
            _nodes[core.TenantName!] = node;
        // The hooks are in place when StartAsync returns to here (before its first wait); the links follow.
        _ = LinkAsync(node);
    }

    private async Task LinkAsync(ClusterNode node)
    {
        try
        {
            await node.StartAsync();
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Cluster: tenant {Tenant} could not join the cluster", node.Tenant);
        }
    }
}
