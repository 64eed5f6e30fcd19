using Kirisame.Broker.Sessions;
using Kirisame.Cluster.Grains;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Kirisame.Cluster;

/// One client id, one holder, cluster-wide (docs/adr/0008, 0020): claims go to the id's <see cref="IClientRegistryPartition"/>
/// grain, whose answer carries an epoch above every earlier claim of the id, and the holder it displaced — also a node
/// that keeps the id's persistent session without a connection. A holder on another node is closed, and its session
/// brought here, by <see cref="ClusterNode.TakeOverAsync"/> before the broker attaches; a displaced holder on this
/// node is closed by the broker as in a single node.
/// Ids with U+0000 (the broker's own in-process clients, the sessions standing for other nodes) never leave the node.
/// A tenant's registry (<paramref name="tenant"/>, docs/adr/0021) shares the partitions, its ids written "tenant\0id"
/// there: no network client's id has U+0000 [MQTT-1.5.4-2], so no id of another tenant, nor of the default one, is equal.
internal sealed class ClusterSessionRegistry(IGrainFactory grains, string self, ILogger logger, string? tenant = null) : ISessionRegistry
{
    private readonly string _prefix = tenant is null ? "" : tenant + "\0";

    /// How long a release may wait for its partition. A release only tidies the registry — a later claim's epoch is
    /// above this lease's either way — so a partition that does not answer (its silo stopping or dead: all nodes of a
    /// cluster stopped together) must not hold a closing connection for Orleans' 30 s response timeout.
    private static readonly TimeSpan s_releaseLimit = TimeSpan.FromSeconds(5);

    /// Partitions of the registry: few enough that every one is active (warm) on a small cluster, enough to spread a
    /// connect storm over the nodes.
    internal const int Partitions = 64;

    private readonly LocalSessionRegistry _local = new();

    /// Whether the session of a client id released under an epoch stays on this node (a persistent one): then the
    /// partition keeps a record of where it is. Set by the node once its broker is up.
    public Func<string, long, bool>? KeepsSession { get; set; }

    public async ValueTask<SessionClaim> ClaimAsync(string clientId, SessionHolder holder, CancellationToken cancellationToken = default)
    {
        if (IsNodeLocal(clientId))
            return await _local.ClaimAsync(clientId, holder, cancellationToken);
        ClaimResult result;
        try
        {
            result = await Partition(clientId).Claim(Key(clientId), self, holder.Connection, force: WaitForAdoption is null).WaitAsync(cancellationToken);
            if (result.AwaitingAdoption is { } dead)
            {
                // Its record may be on its way back with the dead node's sessions: claimed again once they were taken up,
                // and refused for now if that takes too long — a fresh session now would leave the old one behind.
                if (await WaitForAdoption!(dead).WaitAsync(cancellationToken) is null)
                    return Unavailable(clientId, holder, $"its registry record went with node {dead}, which died, and no live node has taken that node's sessions up yet");
                result = await Partition(clientId).Claim(Key(clientId), self, holder.Connection, force: true).WaitAsync(cancellationToken);
            }
        }
        catch (Exception ex) when (ex is OrleansException or TimeoutException)
        {
            // The partition's node died and Orleans has not placed it again yet (or it is cut off): the client tries again.
            return Unavailable(clientId, holder, $"the client-id registry did not answer ({ex.GetType().Name})");
        }


        var lease = new SessionLease(clientId, result.Epoch, new SessionHolder(self, holder.Connection));
        // A holder on another node, connected or keeping a persistent session there, is the broker's to take over
        // (IClusterHooks.TakeOverAsync); an offline record of this node is just the session the broker has.
        var previous = result.Previous is { } before && !(before.Offline && before.Node == self)
            ? new SessionLease(clientId, before.Epoch, new SessionHolder(before.Node, before.Connection))
            : (SessionLease?)null;
        return new SessionClaim(lease, previous);
    }

    /// A claim that recorded nothing: the CONNECT is refused with Server unavailable, saying <paramref name="why"/>.
    private SessionClaim Unavailable(string clientId, SessionHolder holder, string why) =>
        new(new SessionLease(clientId, 0, new SessionHolder(self, holder.Connection)), null, why);

    private readonly ReleaseFailures _failures = new(logger);

    /// With a shared store (docs/adr/0020): completes once the persistent sessions of a dead node were taken up, or the
    /// wait gave up. Null without one, and claims are never asked to wait.
    public Func<string, Task<string?>>? WaitForAdoption { get; set; }

    public async ValueTask<bool> ReleaseAsync(SessionLease lease, CancellationToken cancellationToken = default)
    {
        if (IsNodeLocal(lease.ClientId))
            return await _local.ReleaseAsync(lease, cancellationToken);
        try
        {
            return await Partition(lease.ClientId).Release(Key(lease.ClientId), lease.Epoch, KeepsSession?.Invoke(lease.ClientId, lease.Epoch) ?? false)
                .WaitAsync(s_releaseLimit, cancellationToken);
        }
        catch (Exception ex) when (ex is TimeoutException or OrleansException)
        {
            // The record stays until a claim replaces it (fenced by its epoch) or the partition is stated again.
            _failures.Add(lease.ClientId, ex);
            return false;
        }
    }

    public async ValueTask<SessionLease?> FindAsync(string clientId, CancellationToken cancellationToken = default)
    {
        if (IsNodeLocal(clientId))
            return await _local.FindAsync(clientId, cancellationToken);
        var found = await Partition(clientId).Find(Key(clientId)).WaitAsync(cancellationToken);
        return found is null ? null : new SessionLease(clientId, found.Epoch, new SessionHolder(found.Node, found.Connection));
    }

    /// Records the persistent session of <paramref name="clientId"/> on this node, moving from the leaving node
    /// <paramref name="from"/>: the epoch of that record, or 0 when the id is another node's now.
    public Task<long> MoveAsync(string clientId, string from) => Partition(clientId).Move(Key(clientId), from, self);

    /// The claim of <paramref name="claim"/> gives way to the holder it displaced again (<see cref="IClientRegistryPartition.Restore"/>).
    public Task RestoreAsync(SessionLease claim, SessionLease previous) =>
        Partition(claim.ClientId).Restore(Key(claim.ClientId), claim.Epoch,
            new HolderRecord(Key(claim.ClientId), previous.Epoch, previous.Holder.Node, previous.Holder.Connection, Offline: true));

    /// Drops every record of the dead node <paramref name="node"/>, in all partitions.
    public Task ForgetAsync(string node) =>
        Task.WhenAll(Enumerable.Range(0, Partitions).Select(p => grains.GetGrain<IClientRegistryPartition>(p).Forget(node)));

    /// States again what this node holds, after a silo died and partitions may have moved with their state lost. (A
    /// partition's new activation also asks every node for its part, <see cref="ClientRegistryPartition"/>: this push
    /// covers a node that did not answer that question in time.)
    public async Task ReassertAsync(IReadOnlyList<HolderRecord> held)
    {
        foreach (var group in Keyed(held).GroupBy(h => PartitionOf(h.ClientId)))
            await grains.GetGrain<IClientRegistryPartition>(group.Key).Reassert([.. group]);
    }

    /// The registry partition of this registry's client <paramref name="clientId"/>.
    internal long PartitionOfClient(string clientId) => PartitionOf(Key(clientId));

    /// <paramref name="held"/> with the ids as the partitions know them.
    internal IEnumerable<HolderRecord> Keyed(IEnumerable<HolderRecord> held) => held.Select(h => h with { ClientId = Key(h.ClientId) });

    private static bool IsNodeLocal(string clientId) => clientId.Contains('\0', StringComparison.Ordinal);

    /// The id as the partitions know it.
    private string Key(string clientId) => _prefix.Length == 0 ? clientId : _prefix + clientId;

    private IClientRegistryPartition Partition(string clientId) => grains.GetGrain<IClientRegistryPartition>(PartitionOf(Key(clientId)));

    /// A stable hash (string.GetHashCode differs between processes).
    private static long PartitionOf(string clientId)
    {
        var hash = 2166136261u;
        foreach (var c in clientId)
            hash = (hash ^ c) * 16777619u;
        return hash % Partitions;
    }
}

/// Releases the registry could not record, logged as a count at most every ten seconds rather than once per client: when
/// a cluster stops as a whole, every closing connection of every node fails to reach a stopping partition.
internal sealed class ReleaseFailures(ILogger logger)
{
    private static readonly long s_interval = TimeSpan.FromSeconds(10).Ticks;
    private long _count;
    private long _nextLogAt;

    public void Add(string clientId, Exception error)
    {
        var count = Interlocked.Increment(ref _count);
        var now = DateTime.UtcNow.Ticks;
        var next = Interlocked.Read(ref _nextLogAt);
        if (now < next || Interlocked.CompareExchange(ref _nextLogAt, now + s_interval, next) != next)
            return;
        logger.LogWarning("Cluster: the client-id registry did not record the release of {ClientId} ({Error}); {Count} such release(s) since start",
            clientId, error.GetType().Name + ": " + error.Message, count);
    }
}
