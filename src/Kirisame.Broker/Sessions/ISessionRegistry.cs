namespace Kirisame.Broker.Sessions;

/// The session registry seam: who holds a client id. A client id is held by at most one connection at a time
/// [MQTT-3.1.4-3]; each claim gets an epoch (a fencing token) higher than every earlier claim of the same id, so
/// that whatever a displaced holder still does — its clean-up, a late release — can be told apart from the
/// newer holder's and refused (docs/adr/0008).
///
/// <see cref="LocalSessionRegistry"/> serves one process; a cluster replaces it with one that answers for every
/// node (a grain per client id). The registry knows holders only: the session's state (subscriptions, queues)
/// stays with the broker, which records on each session the epoch of the claim that holds it.
///
/// Calls are asynchronous because a distributed registry answers over the network; the local one completes
/// synchronously. The broker calls it outside its own locks.
public interface ISessionRegistry
{
    /// Claims <paramref name="clientId"/> for <paramref name="holder"/>. Always succeeds: the newest claim wins
    /// (a new CONNECT takes over, [MQTT-3.1.4-3]). The answer carries the new lease and the lease it displaced,
    /// if any, whose holder is to be closed with Session taken over (0x8E).
    public ValueTask<SessionClaim> ClaimAsync(string clientId, SessionHolder holder, CancellationToken cancellationToken = default);

    /// Lets go of <paramref name="lease"/>. Only the current lease is released: true when it was; false (and
    /// nothing changes) when a newer claim has displaced it, so a late release cannot remove the newer holder.
    public ValueTask<bool> ReleaseAsync(SessionLease lease, CancellationToken cancellationToken = default);

    /// The current lease of <paramref name="clientId"/>, or null when nobody holds it.
    public ValueTask<SessionLease?> FindAsync(string clientId, CancellationToken cancellationToken = default);
}
