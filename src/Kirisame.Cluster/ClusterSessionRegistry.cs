using Kirisame.Broker.Sessions;
using Kirisame.Cluster.Grains;
using Microsoft.Extensions.Logging;

namespace Kirisame.Cluster;

/// One client id, one holder, cluster-wide (docs/adr/0008, 0020): claims go to the id's <see cref="IClientRegistryPartition"/>
/// grain, whose answer carries an epoch above every earlier claim of the id. A claim that displaces a holder on another
/// node closes that node's connection (Session taken over, 0x8E) before it returns, so the broker then finds no local
/// holder and attaches; a displaced holder on this node is closed by the broker as in a single node.
/// Ids with U+0000 (the broker's own in-process clients, the sessions standing for other nodes) never leave the node.
internal sealed class ClusterSessionRegistry(IGrainFactory grains, string self, ILogger logger) : ISessionRegistry
{
    /// Partitions of the registry: few enough that every one is active (warm) on a small cluster, enough to spread a
    /// connect storm over the nodes.
    internal const int Partitions = 64;

    private readonly LocalSessionRegistry _local = new();

    public async ValueTask<SessionClaim> ClaimAsync(string clientId, SessionHolder holder, CancellationToken cancellationToken = default)
    {
        if (IsNodeLocal(clientId))
            return await _local.ClaimAsync(clientId, holder, cancellationToken);
        var result = await Partition(clientId).Claim(clientId, self, holder.Connection).WaitAsync(cancellationToken);
        var lease = new SessionLease(clientId, result.Epoch, new SessionHolder(self, holder.Connection));
        SessionLease? previous = null;
        if (result.Previous is { } before)
        {
            previous = new SessionLease(clientId, before.Epoch, new SessionHolder(before.Node, before.Connection));
            if (before.Node != self)
                await KickAsync(before, cancellationToken);
        }

        return new SessionClaim(lease, previous);
    }

    /// Closes the displaced holder on its node and waits for it (its clean-up, its will); a node that does not answer
    /// is dead or cut off, and the claim goes on without it (its connection is fenced by the epoch).
    private async Task KickAsync(HolderRecord holder, CancellationToken cancellationToken)
    {
        try
        {
            await grains.GetGrain<INodeInbox>(holder.Node).Kick(holder.ClientId, holder.Epoch).WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning("Cluster: could not close client {ClientId}'s connection on node {Node}: {Error}",
                Kirisame.Protocol.Primitives.MqttText.Quote(holder.ClientId), holder.Node, ex.Message);
        }
    }

    public async ValueTask<bool> ReleaseAsync(SessionLease lease, CancellationToken cancellationToken = default) =>
        IsNodeLocal(lease.ClientId)
            ? await _local.ReleaseAsync(lease, cancellationToken)
            : await Partition(lease.ClientId).Release(lease.ClientId, lease.Epoch).WaitAsync(cancellationToken);

    public async ValueTask<SessionLease?> FindAsync(string clientId, CancellationToken cancellationToken = default)
    {
        if (IsNodeLocal(clientId))
            return await _local.FindAsync(clientId, cancellationToken);
        var found = await Partition(clientId).Find(clientId).WaitAsync(cancellationToken);
        return found is null ? null : new SessionLease(clientId, found.Epoch, new SessionHolder(found.Node, found.Connection));
    }

    /// States again what this node holds, after a silo died and partitions may have moved with their state lost.
    public async Task ReassertAsync(IReadOnlyList<HolderRecord> held)
    {
        foreach (var group in held.GroupBy(h => PartitionOf(h.ClientId)))
            await grains.GetGrain<IClientRegistryPartition>(group.Key).Reassert([.. group]);
    }

    private static bool IsNodeLocal(string clientId) => clientId.Contains('\0', StringComparison.Ordinal);

    private IClientRegistryPartition Partition(string clientId) => grains.GetGrain<IClientRegistryPartition>(PartitionOf(clientId));

    /// A stable hash (string.GetHashCode differs between processes).
    private static long PartitionOf(string clientId)
    {
        var hash = 2166136261u;
        foreach (var c in clientId)
            hash = (hash ^ c) * 16777619u;
        return hash % Partitions;
    }
}
