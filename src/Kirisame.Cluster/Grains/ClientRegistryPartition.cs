namespace Kirisame.Cluster.Grains;

/// The state is soft (in memory): a partition that moves after its silo died starts empty and is filled again by the
/// nodes' <see cref="Reassert"/>. Epochs start from the wall clock in 100 ns ticks, so one made by a new activation is
/// above every epoch an earlier activation handed out (clocks of the nodes roughly agreeing), and fencing by epoch
/// holds across the move.
internal sealed class ClientRegistryPartition : Grain, IClientRegistryPartition
{
    private readonly Dictionary<string, HolderRecord> _holders = new(StringComparer.Ordinal);
    private long _lastEpoch = DateTime.UtcNow.Ticks;

    public Task<ClaimResult> Claim(string clientId, string node, string connection)
    {
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
        foreach (var holder in holders)
        {
            if (!_holders.TryGetValue(holder.ClientId, out var current) || current.Epoch < holder.Epoch)
                _holders[holder.ClientId] = holder;
            _lastEpoch = Math.Max(_lastEpoch, holder.Epoch);
        }

        return Task.CompletedTask;
    }
}
