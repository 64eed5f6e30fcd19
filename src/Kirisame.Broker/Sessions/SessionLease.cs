namespace Kirisame.Broker.Sessions;

/// What holds a client id, as the registry records it: plain values (a node and a connection there), so that a
/// distributed registry can keep and send them. In one process the node is <see cref="LocalNode"/>.
public readonly record struct SessionHolder(string Node, string Connection)
{
    /// The node name of a broker that is not part of a cluster.
    public const string LocalNode = "local";
}

/// One claim of a client id: who holds it and the claim's epoch. Epochs of one client id only ever grow, so the
/// higher epoch is the newer holder; a holder presents its epoch to prove it still holds the id.
public readonly record struct SessionLease(string ClientId, long Epoch, SessionHolder Holder);

/// The answer to a claim: the new lease, and the one it displaced (null when nobody held the client id). A cluster's
/// registry may instead answer that it cannot tell now who held the id (<paramref name="Unavailable"/>, why): the node
/// that had it died and its sessions are not taken up yet (docs/adr/0020); the claim recorded nothing, and the CONNECT
/// is refused with Server unavailable for its client to try again.
public readonly record struct SessionClaim(SessionLease Lease, SessionLease? Previous, string? Unavailable = null);
