using System.Net;
using Kirisame.Broker.Security;
using Microsoft.Extensions.Logging;

namespace Kirisame.Server.Authentication;

/// The HTTP authorization hook of one listener (docs/adr/0018). The connection awaits <see cref="DecideAsync"/> when
/// <see cref="IsDecided"/> finds no fresh answer for (client id, user name, action, topic), then the synchronous
/// CanPublish/CanSubscribe read the cache: a PUBLISH never waits on HTTP once its topic is cached, and the lookup
/// allocates nothing (a value-tuple key). "allow" and "ignore" let the ACL file decide (both must allow); "deny"
/// refuses. A failed call refuses (fail closed) unless OnFailure is Ignore; failures are not cached.
internal sealed class HttpAuthorizer(HttpHook hook, Uri url, string listener, TimeProvider time, ILogger logger,
    string tenant = Broker.Tenants.TenantDirectory.DefaultTenant) : IAuthorizer, IAuthorizationHook
{
    /// An answer just fetched is read right after; a TTL that ends in between must not turn it into a refusal.
    private static readonly TimeSpan s_grace = TimeSpan.FromSeconds(1);

    private readonly HookCache<(string ClientId, string? UserName, AuthorizationAction Action, string Topic)> _cache = new(time);

    public IAuthorizationHook Hook => this;

    public bool CanPublish(string clientId, string? userName, string topic) => Allowed(clientId, userName, AuthorizationAction.Publish, topic);

    public bool CanSubscribe(string clientId, string? userName, string filter) => Allowed(clientId, userName, AuthorizationAction.Subscribe, filter);

    private bool Allowed(string clientId, string? userName, AuthorizationAction action, string topic)
    {
        // No answer (an in-process client, which never awaits the hook): refused, as a failed hook is.
        if (_cache.TryGet((clientId, userName, action, topic), s_grace, out var answer) && answer is HookAnswer.Allow or HookAnswer.Ignore)
            return true;
        SecurityMetrics.AuthorizationRefused("http", action == AuthorizationAction.Publish ? "publish" : "subscribe");
        return false;
    }

    public bool IsDecided(string clientId, string? userName, AuthorizationAction action, string topic) =>
        _cache.TryGet((clientId, userName, action, topic), TimeSpan.Zero, out _);

    public async ValueTask DecideAsync(string clientId, string? userName, string listenerName, EndPoint? remote, AuthorizationAction action, string topic)
    {
        var (answer, detail) = await hook.CallAsync(url, new Dictionary<string, string?>
        {
            ["clientid"] = clientId,
            ["username"] = userName,
            ["peerhost"] = (remote as IPEndPoint)?.Address.ToString() ?? remote?.ToString(),
            ["listener"] = listener,
            ["tenant"] = tenant,
            ["action"] = action == AuthorizationAction.Publish ? "publish" : "subscribe",
            ["topic"] = topic,
        });
        if (answer == HookAnswer.Failed)
        {
            // Kept only for the read that follows (the grace): the next request asks the hook again.
            _cache.Set((clientId, userName, action, topic), hook.Options.OnFailure == HookFailure.Ignore ? HookAnswer.Ignore : HookAnswer.Deny, TimeSpan.Zero);
            if (hook.Options.OnFailure == HookFailure.Deny)
                LogRefusal(clientId, action, topic, detail);
            return;
        }

        _cache.Set((clientId, userName, action, topic), answer, hook.Options.CacheTtl);
        if (answer == HookAnswer.Deny)
            LogRefusal(clientId, action, topic, detail);
    }

    private void LogRefusal(string clientId, AuthorizationAction action, string topic, string detail) =>
        logger.LogInformation("HTTP authorization refused {Action} on '{Topic}' for client {ClientId} (listener {Listener}): {Detail}",
            action, Protocol.Primitives.MqttText.Quote(topic), Protocol.Primitives.MqttText.Quote(clientId), listener, detail);
}
