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

    /// Rules for this client alone (e.g. from a JWT's claims), set by the source that admitted it. The connection
    /// applies them on top of its listener's: both must allow (docs/adr/0018).
    public IAuthorizer? ClientAuthorizer { get; set; }

    /// When the credentials stop being valid (a JWT's exp): the connection is closed then.
    public DateTimeOffset? ExpiresAt { get; set; }

    /// Why a source refused the client, for the log line and the v5 Reason String; never a password or token.
    public string? RefusalReason { get; set; }

    /// The tenant the client was mapped to (docs/adr/0021-tenants.md; "default" when none is configured or named);
    /// <see cref="UserName"/> is then the name within it (without the tenant prefix). The HTTP hook sends it.
    public string Tenant { get; init; } = "default";

    /// Set by a source whose credentials name the client's tenant (a JWT claim, the HTTP hook's answer): the client
    /// is served in that tenant, unless it named another itself (user name prefix, TLS server name), which refuses it.
    public string? AssignedTenant { get; set; }
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

    /// An authorizer whose answers may need an await (the HTTP hook): the connection asks it before a PUBLISH or
    /// SUBSCRIBE that it has no cached answer for. Null (the default) keeps the packet path synchronous.
    public IAuthorizationHook? Hook => null;
}

public enum AuthorizationAction
{
    Publish,
    Subscribe,
}

/// The asynchronous half of an authorizer that asks elsewhere (docs/adr/0018): <see cref="IsDecided"/> is a cache
/// lookup made on the packet path; on a miss the connection awaits <see cref="DecideAsync"/>, which fills the cache
/// that the synchronous CanPublish/CanSubscribe then read.
public interface IAuthorizationHook
{
    public bool IsDecided(string clientId, string? userName, AuthorizationAction action, string topic);

    public ValueTask DecideAsync(string clientId, string? userName, string listener, EndPoint? remote, AuthorizationAction action, string topic);
}

/// Two sets of rules that must both allow: a listener's ACL and a client's own rules, or the ACL and a hook.
public sealed class AllOfAuthorizer(IAuthorizer first, IAuthorizer second) : IAuthorizer
{
    public bool CanPublish(string clientId, string? userName, string topic) =>
        first.CanPublish(clientId, userName, topic) && second.CanPublish(clientId, userName, topic);

    public bool CanSubscribe(string clientId, string? userName, string filter) =>
        first.CanSubscribe(clientId, userName, filter) && second.CanSubscribe(clientId, userName, filter);

    public IAuthorizationHook? Hook => second.Hook ?? first.Hook;
}

/// The default until authentication is configured: everyone is let in and may do anything.
public sealed class AllowAll : IAuthenticator, IAuthorizer
{
    public static readonly AllowAll Instance = new();

    public ValueTask<ReasonCode> AuthenticateAsync(ConnectContext context, CancellationToken cancellationToken) => ValueTask.FromResult(ReasonCode.Success);

    public bool CanPublish(string clientId, string? userName, string topic) => true;

    public bool CanSubscribe(string clientId, string? userName, string filter) => true;
}
