using System.Net;
using Kirisame.Protocol;

namespace Kirisame.Broker.Security;

/// What the broker knows of a client when it asks who it is.
public sealed record ConnectContext(string ClientId, string? UserName, ReadOnlyMemory<byte>? Password, EndPoint? RemoteEndPoint, string Listener, ProtocolVersion ProtocolVersion)
{
    /// The name from a client certificate the transport verified (see <see cref="ConnectionInfo.CertificateName"/>).
    public string? CertificateName { get; init; }

    /// Set by an authenticator that admits the client under another name (the certificate's name, a
    /// default user); the broker then uses it as the client's user name for authorization and logs.
    public string? AssignedUserName { get; set; }
}

/// Decides whether a CONNECT is accepted. Success admits the client; anything else refuses it with that
/// reason code (mapped to a v3 return code for older clients).
public interface IAuthenticator
{
    public ValueTask<ReasonCode> AuthenticateAsync(ConnectContext context, CancellationToken cancellationToken);
}

/// Decides what an admitted client may do. Called per PUBLISH and per SUBSCRIBE filter.
public interface IAuthorizer
{
    public bool CanPublish(string clientId, string? userName, string topic);

    public bool CanSubscribe(string clientId, string? userName, string filter);

    /// The rules for connections accepted on <paramref name="listener"/> (see <see cref="ConnectionInfo.Listener"/>);
    /// asked once per connection. The same rules everywhere unless an authorizer says otherwise.
    public IAuthorizer ForListener(string listener) => this;
}

/// The default until authentication is configured: everyone is let in and may do anything.
public sealed class AllowAll : IAuthenticator, IAuthorizer
{
    public static readonly AllowAll Instance = new();

    public ValueTask<ReasonCode> AuthenticateAsync(ConnectContext context, CancellationToken cancellationToken) => ValueTask.FromResult(ReasonCode.Success);

    public bool CanPublish(string clientId, string? userName, string topic) => true;

    public bool CanSubscribe(string clientId, string? userName, string filter) => true;
}
