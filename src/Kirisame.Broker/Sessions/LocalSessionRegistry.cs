namespace Kirisame.Broker.Sessions;

/// The session registry of a broker that is alone: a dictionary of current holders under one lock.
///
/// Epochs come from one counter for all client ids. That makes them grow per client id too, with nothing kept
/// for an id once it is released: a client id that comes back gets a higher epoch than any it had before
/// without the registry remembering it (a registry keeping the last epoch of every id ever seen would grow with
/// every random client id). A long does not run out: 2^63 claims at a million a second take 292,000 years.
///
/// All answers are complete when returned (no await inside).
public sealed class LocalSessionRegistry : ISessionRegistry
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _holders = new(StringComparer.Ordinal);
    private long _lastEpoch;

    /// Client ids held now.
    public int Count
    {
        get
        {
            lock (_lock)
                return _holders.Count;
        }
    }

    public ValueTask<SessionClaim> ClaimAsync(string clientId, SessionHolder holder, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(clientId);
        cancellationToken.ThrowIfCancellationRequested();
        SessionClaim claim;
        lock (_lock)
        {
            // Taken under the lock with the replacement, so that claims of one id get epochs in the order they
            // replace each other: the holder recorded last always has the highest epoch.
            var epoch = ++_lastEpoch;
            SessionLease? previous = _holders.TryGetValue(clientId, out var held) ? new SessionLease(clientId, held.Epoch, held.Holder) : null;
            _holders[clientId] = new Entry(epoch, holder);
            claim = new SessionClaim(new SessionLease(clientId, epoch, holder), previous);
        }

        return ValueTask.FromResult(claim);
    }

    public ValueTask<bool> ReleaseAsync(SessionLease lease, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lease.ClientId);
        bool released;
        lock (_lock)
        {
            // The epoch, not the holder, decides: the same connection id may claim again later, an epoch never repeats.
            released = _holders.TryGetValue(lease.ClientId, out var held) && held.Epoch == lease.Epoch;
            if (released)
                _holders.Remove(lease.ClientId);
        }

        return ValueTask.FromResult(released);
    }

    public ValueTask<SessionLease?> FindAsync(string clientId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(clientId);
        SessionLease? lease;
        lock (_lock)
            lease = _holders.TryGetValue(clientId, out var held) ? new SessionLease(clientId, held.Epoch, held.Holder) : null;
        return ValueTask.FromResult(lease);
    }

    /// A holder and its epoch: a struct in the dictionary, so a held client id costs its entry and no object.
    private readonly record struct Entry(long Epoch, SessionHolder Holder);
}
