using Orleans.Concurrency;

namespace Kirisame.Cluster.Grains;

/// Hands each call to this node's <see cref="ClusterNode"/>. Reentrant: a Kick waits for a connection to close and
/// must not hold up deliveries meanwhile; the node is safe for concurrent calls.
[NodeInboxPlacement]
[Reentrant]
internal sealed class NodeInbox(ClusterNode node) : Grain, INodeInbox
{
    public Task Receive(NodeBatch batch) => node.ReceiveAsync(batch);

    public Task Kick(string clientId, long epoch) => node.KickAsync(clientId, epoch);

    public Task<SessionTransfer?> HandOver(string clientId, long epoch) => node.HandOverAsync(clientId, epoch);

    public Task HandedOver(string clientId) => node.HandedOver(clientId);

    public Task<SessionTransfer?> TakeRest(string clientId, string to) => node.Moves.TakeRestAsync(clientId, to);

    public Task<bool> Adopt(string clientId, string from) => node.Moves.AdoptAsync(clientId, from);

    public Task Flush() => node.FlushAsync();

    public Task<byte[]> Retained() => Task.FromResult(node.RetainedSnapshot());

    public Task<long> ConnectedClients() => Task.FromResult(node.ConnectedClients);
}
