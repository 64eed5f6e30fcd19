using System.Net;

namespace Kirisame.Broker;

/// What the broker knows of a connection besides its bytes. Transports fill it in.
public sealed record ConnectionInfo(string ConnectionId, EndPoint? RemoteEndPoint, EndPoint? LocalEndPoint, string Listener = "tcp")
{
    /// The peer's address; an IPv4 one is made again each time it is asked for (see <see cref="CompactEndPoint"/>).
    public EndPoint? RemoteEndPoint
    {
        get => _remote.ToEndPoint();
        init => _remote = new CompactEndPoint(value);
    }

    private readonly CompactEndPoint _remote = new(RemoteEndPoint);

    /// The identity from a client certificate that the transport has verified against its CA, when the
    /// listener is configured to use it as the user name; null otherwise.
    public string? CertificateName { get; init; }

    /// The TLS server name (SNI) the client asked for, which may map it to a tenant; null without TLS or SNI.
    public string? ServerName { get; init; }

    /// The listener whose authentication and ACL apply: <see cref="Listener"/> itself unless the listener
    /// borrows another's (a listener added at run time has no security section of its own, ADR 0019).
    public string SecurityListener
    {
        get => _securityListener ?? Listener;
        init => _securityListener = value;
    }

    private readonly string? _securityListener;
}
