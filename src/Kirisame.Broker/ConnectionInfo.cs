using System.Net;

namespace Kirisame.Broker;

/// What the broker knows of a connection besides its bytes. Transports fill it in.
public sealed record ConnectionInfo(string ConnectionId, EndPoint? RemoteEndPoint, EndPoint? LocalEndPoint, string Listener = "tcp")
{
    /// The identity from a client certificate that the transport has verified against its CA, when the
    /// listener is configured to use it as the user name; null otherwise.
    public string? CertificateName { get; init; }
}
