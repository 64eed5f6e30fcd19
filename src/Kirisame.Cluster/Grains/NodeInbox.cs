using Orleans.Concurrency;

namespace Kirisame.Cluster.Grains;

/// Hands each call to this node's <see cref="ClusterNode"/> — the default tenant's, or, for a key "address/tenant",
/// that tenant's (docs/adr/0021). Reentrant: a Kick waits for a connection to close and must not hold up deliveries
/// meanwhile; the node is safe for concurrent calls.
[NodeInboxPlacement]
[Reentrant]
internal sealed class NodeInbox(ClusterNode node) : Grain, INodeInbox
{
    private string? _tenant;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _tenant = NodeInboxKey.TenantOf(this.GetPrimaryKeyString());
        return Task.CompletedTask;
    }

    /// Looked up on every call: a tenant removed and added again is another node. One that does not exist here (yet)
    /// fails the call, and the sender tries again, with its routes whole, until it does: a tenant must be defined on
    /// every node.
    private ClusterNode Node => _tenant is null ? node
        : node.Tenants.Find(_tenant) ?? throw new InvalidOperationException($"tenant '{_tenant}' does not exist on node {node.Self}");

    public Task Receive(NodeBatch batch) => Node.ReceiveAsync(batch);

    public Task Kick(string clientId, long epoch) => Node.KickAsync(clientId, epoch);

    public Task<SessionTransfer?> TakeRest(string clientId, string to) => Node.Moves.TakeRestAsync(clientId, to);

    public Task<bool> Adopt(string clientId, string from) => Node.Moves.AdoptAsync(clientId, from);

    public Task Flush() => Node.FlushAsync();

    public Task SendHeld(string dead, string adopter) => Node.Dead?.SendHeldAsync(dead, adopter) ?? Task.CompletedTask;

    public Task ReceiveHeld(string dead, byte[] messages, List<int> shared) => Node.Dead?.ReceiveHeldAsync(dead, messages, shared) ?? Task.CompletedTask;

    public Task Adopted(string dead, string adopter)
    {
        Node.Dead?.Adopted(dead, adopter);
        return Task.CompletedTask;
    }

    public Task<SessionTransfer?> HandOver(string clientId, long epoch) => Node.HandOverAsync(clientId, epoch);

    public Task HandedOver(string clientId) => Node.HandedOver(clientId);

    public Task<HeldAnswer> Held(long partition) => Task.FromResult(new HeldAnswer(node.HeldIn(partition), node.AwaitingAdoption()));

    public Task<byte[]> Retained() => Task.FromResult(Node.RetainedSnapshot());

    public Task<long> ConnectedClients() => Task.FromResult(Node.ConnectedClients);
}

/// An inbox's key: the silo's address with its generation, and for a tenant's node "/" and the tenant's name (a
/// silo address has no '/', a tenant name neither).
internal static class NodeInboxKey
{
    public static string Of(string address, string? tenant) => tenant is null ? address : address + "/" + tenant;

    public static string AddressOf(string key) => key.IndexOf('/', StringComparison.Ordinal) is var at and >= 0 ? key[..at] : key;

    public static string? TenantOf(string key) => key.IndexOf('/', StringComparison.Ordinal) is var at and >= 0 ? key[(at + 1)..] : null;
}
