using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;

namespace Kirisame.Broker;

/// How each tenant's core becomes a node of the cluster the operator's core is a node of (docs/adr/0021, "In a
/// cluster"): a tenant is a cluster of its own inside the cluster — its routes, client-id registry, session hand-over,
/// retained replication and wills travel between the same tenant's cores on the nodes, and nowhere else. Null on a
/// single node. In the root namespace, as <see cref="IClusterHooks"/> is: Sessions already depend on Tenants.
internal interface ITenantCluster
{
    /// Before the tenant's core exists: the store it is to see (its own, or the in-memory one, with the cluster's
    /// acknowledgement and replication around it) and its share of the client-id registry.
    public (IBrokerStore Store, ISessionRegistry Registry) Prepare(string tenant, IBrokerStore? store);

    /// The tenant's core has started: it links to the same tenant on the other nodes.
    public void Join(MqttBroker core);

    /// The tenant's grace period after removal is over, or the server stops: its links close before its core does.
    public Task LeaveAsync(MqttBroker core);
}
