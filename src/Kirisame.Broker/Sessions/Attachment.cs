namespace Kirisame.Broker.Sessions;

/// How a CONNECT (or an in-process connect) came out of the session registry: the session it holds now, whether
/// that continued an existing one (Session Present), and the lease to present when letting go of it.
internal readonly record struct Attachment(AttachOutcome Outcome, Session? Session, bool Present, SessionLease Lease);

internal enum AttachOutcome : byte
{
    /// The client holds <see cref="Attachment.Session"/>.
    Attached,

    /// A new persistent session would exceed Broker:MaxOfflineSessions.
    OverQuota,

    /// A new session would exceed the tenant's session quota (TenantQuotas.MaxSessions).
    OverTenantQuota,

    /// A newer claim of the same client id came first: this one holds nothing, and its connection closes as a
    /// taken-over one would [MQTT-3.1.4-3].
    TakenOver,

    /// The client id's session is on a cluster node that died and has not been taken up by a live node yet
    /// (docs/adr/0020): continuing it now would start it empty, so the CONNECT is refused and the client retries.
    SessionUnavailable,
}
