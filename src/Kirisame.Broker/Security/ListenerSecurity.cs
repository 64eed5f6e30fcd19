using Kirisame.Protocol;

namespace Kirisame.Broker.Security;

/// Authentication that differs per listener (e.g. anonymous on loopback, passwords on the public TLS
/// listener): each CONNECT goes to the authenticator of the listener that accepted it. A listener with no
/// entry is refused, so a listener added without security settings fails closed.
public sealed class ListenerAuthenticator(IReadOnlyDictionary<string, IAuthenticator> byListener) : IAuthenticator
{
    public ValueTask<ReasonCode> AuthenticateAsync(ConnectContext context, CancellationToken cancellationToken) =>
        byListener.TryGetValue(context.Listener, out var authenticator)
            ? authenticator.AuthenticateAsync(context, cancellationToken)
            : ValueTask.FromResult(ReasonCode.NotAuthorized);
}

/// Authorization that differs per listener: each connection gets the rules of its listener once, at
/// accept, so a PUBLISH costs no extra lookup. A listener with no entry gets this object itself, which
/// allows nothing.
public sealed class ListenerAuthorizer(IReadOnlyDictionary<string, IAuthorizer> byListener) : IAuthorizer
{
    public bool CanPublish(string clientId, string? userName, string topic) => false;

    public bool CanSubscribe(string clientId, string? userName, string filter) => false;

    public IAuthorizer ForListener(string listener) => byListener.TryGetValue(listener, out var authorizer) ? authorizer : this;
}
