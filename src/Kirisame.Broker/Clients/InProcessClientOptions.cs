using Kirisame.Protocol.Packets;

namespace Kirisame.Broker.Clients;

/// How an in-process client connects: what a network client says in CONNECT, less what only a network needs
/// (keep alive, packet sizes, topic aliases, a password: the code that holds the broker is trusted with its
/// identity; what that identity may do is still decided by the broker's authorizer).
public sealed record InProcessClientOptions
{
    /// The client id; empty lets the broker assign one. A network client with the same id takes the session
    /// over, as a second connection would.
    public string ClientId { get; init; } = "";

    /// The user name the authorizer (ACL) sees.
    public string? UserName { get; init; }

    /// Whose authorization rules apply: those the authorizer gives a network client accepted on the listener of
    /// this name (IAuthorizer.ForListener), e.g. a server with an ACL per listener. Unset: the broker's
    /// authorizer as it is.
    public string? Listener { get; init; }

    /// Start a new session, or continue the stored one [MQTT-3.1.2-4].
    public bool CleanStart { get; init; } = true;

    /// Seconds the session outlives the client (capped by Broker:MaxSessionExpirySeconds); 0 = ends with it.
    public uint SessionExpiryInterval { get; init; }

    /// QoS 1/2 messages delivered and not yet read, at most (the window's other bound is Broker:MaxInflightMessages).
    public ushort ReceiveMaximum { get; init; } = 100;

    /// True: a QoS 1/2 delivery is acknowledged when it is read. False: the reader acknowledges it with
    /// <see cref="InProcessClient.Acknowledge"/> once it is done with it (a bridge, once the remote broker has it), so
    /// one read and not acknowledged stays in the session's window and is delivered again after a reconnect.
    public bool AcknowledgeOnRead { get; init; } = true;

    /// Published when the client goes away without <see cref="InProcessClient.DisconnectAsync"/>, or with it when
    /// asked to.
    public WillMessage? Will { get; init; }

    /// The broker's own publisher ($SYS): may publish to $SYS topics; its messages are not counted as received.
    internal bool IsBroker { get; init; }
}
