using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Kirisame.Cluster.Grains;

/// The state is soft (in memory), and an activation can lose it: its silo dies; Orleans deactivates it on a live silo
/// too when the silo that held its directory entry dies (so that no second activation is made beside it); it is
/// collected after being idle. So each new activation starts from what the nodes hold — it asks every active node
/// (<see cref="INodeInbox.Held"/>) before it serves a claim — and the nodes state it again after a death
/// (<see cref="Reassert"/>), for a node that could not answer in time. Epochs start from the wall clock in 100 ns
/// ticks, so one made by a new activation is above every epoch an earlier activation handed out (clocks of the nodes
/// roughly agreeing), and fencing by epoch holds across the move.
internal sealed class ClientRegistryPartition(IClusterMembershipService membership, ILoggerFactory loggers) : Grain, IClientRegistryPartition
{
    /// How long a new activation waits for one node's answer: a node that died but is not declared dead yet must not
    /// hold the partition's claims for Orleans' 30 s response timeout. A node that does not answer states its part
    /// again once the death is declared.
    private static readonly TimeSpan s_askLimit = TimeSpan.FromSeconds(3);

    /// How long a dead node's adoption is waited for at most (<see cref="Claim"/>): a node that takes longer to take the
    /// sessions up (or none that does) must not hold every new client id of this partition.
    private static readonly TimeSpan s_awaitLimit = TimeSpan.FromSeconds(60);

    private readonly Dictionary<string, HolderRecord> _holders = new(StringComparer.Ordinal);

    /// Dead nodes (with a shared store) whose sessions some node had not seen taken up when this activation started, until when.
    private readonly Dictionary<string, DateTime> _awaiting = new(StringComparer.Ordinal);
    private long _lastEpoch = DateTime.UtcNow.Ticks;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var partition = this.GetPrimaryKeyLong();
        var nodes = membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress.ToParsableString()).ToList();
        var answers = await Task.WhenAll(nodes.Select(async node =>
        {
            try
            {
                return await GrainFactory.GetGrain<INodeInbox>(node).Held(partition).WaitAsync(s_askLimit, cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                loggers.CreateLogger("Kirisame.Cluster").LogInformation(
                    "Cluster: registry partition {Partition} starting here could not ask node {Node} what it holds ({Error}); it states that again once the membership has settled",
                    partition, node, ex.Message);
                return new HeldAnswer([], []);
            }
        }));
        var awaitedUntil = DateTime.UtcNow + s_awaitLimit;
        foreach (var answer in answers)
        {
            Merge(answer.Records);
            foreach (var dead in answer.AwaitingAdoption)
                _awaiting[dead] = awaitedUntil;
        }
    }

    /// A dead node whose sessions are still to be taken up, if any.
    private string? AwaitedAdoption()
    {
        if (_awaiting.Count == 0)
            return null;
        var now = DateTime.UtcNow;
        foreach (var (dead, until) in _awaiting.ToList())
        {
            if (until <= now)
                _awaiting.Remove(dead);
            else
                return dead;
        }

        return null;
    }

    public Task<ClaimResult> Claim(string clientId, string node, string connection, bool force)
    {
        if (!force && !_holders.ContainsKey(clientId) && AwaitedAdoption() is { } dead)
            return Task.FromResult(new ClaimResult(0, null, dead));
        var epoch = NextEpoch();
        _holders.TryGetValue(clientId, out var previous);
        _holders[clientId] = new HolderRecord(clientId, epoch, node, connection);
        return Task.FromResult(new ClaimResult(epoch, previous));
    }

    public Task<long> Move(string clientId, string from, string to)
    {
        // Only a session still recorded on the node that gives it up: an id claimed elsewhere meanwhile is that claim's.
        if (_holders.TryGetValue(clientId, out var current) && current.Node != from)
            return Task.FromResult(0L);
        var epoch = NextEpoch();
        _holders[clientId] = new HolderRecord(clientId, epoch, to, "", Offline: true);
        return Task.FromResult(epoch);
    }

    public Task Restore(string clientId, long epoch, HolderRecord previous)
    {
        if (_holders.TryGetValue(clientId, out var current) && current.Epoch == epoch)
            _holders[clientId] = previous with { Offline = true };
        return Task.CompletedTask;
    }

    public Task Forget(string node)
    {
        _awaiting.Remove(node);
        foreach (var gone in _holders.Values.Where(h => h.Node == node).Select(h => h.ClientId).ToList())
            _holders.Remove(gone);
        return Task.CompletedTask;
    }

    private long NextEpoch() => _lastEpoch = Math.Max(_lastEpoch + 1, DateTime.UtcNow.Ticks);

    public Task<bool> Release(string clientId, long epoch, bool sessionKept)
    {
        if (!_holders.TryGetValue(clientId, out var current) || current.Epoch != epoch || current.Offline)
            return Task.FromResult(false);
        // A kept record costs an entry per persistent session of the cluster; it goes when the id is claimed again.
        // One whose session expired on its node meanwhile only costs that claim a call answered with nothing.
        if (sessionKept)
            _holders[clientId] = current with { Offline = true };
        else
            _holders.Remove(clientId);
        return Task.FromResult(true);
    }

    public Task<HolderRecord?> Find(string clientId) =>
        Task.FromResult(_holders.GetValueOrDefault(clientId) is { Offline: false } holder ? holder : null);

    public Task Reassert(List<HolderRecord> holders)
    {
        Merge(holders);
        return Task.CompletedTask;
    }

    private void Merge(List<HolderRecord> holders)
    {
        foreach (var holder in holders)
        {
            if (!_holders.TryGetValue(holder.ClientId, out var current) || current.Epoch < holder.Epoch)
                _holders[holder.ClientId] = holder;
            _lastEpoch = Math.Max(_lastEpoch, holder.Epoch);
        }
    }
}
