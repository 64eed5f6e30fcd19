using Kirisame.Broker.Security;
using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;
using Microsoft.Extensions.Logging;

namespace Kirisame.Broker.Sessions;

/// What authentication left on the connection beyond a user name (docs/adr/0018): the client's own rules (JWT
/// claims), the expiry of its credentials, and an authorization hook whose answers may need an await.
#pragma warning disable CA1001 // as in ClientConnection.cs: the frame reader is returned in CloseAsync
internal sealed partial class ClientConnection
#pragma warning restore CA1001
{
    /// Made only for a connection that has any of these (most have none, and carry one null field).
    private CredentialState? _credentials;

    private sealed class CredentialState
    {
        public IAuthorizationHook? Hook { get; set; }

        public DateTimeOffset? ExpiresAt { get; set; }

        public ITimer? ExpiryTimer { get; set; }
    }

    /// The listener's rules and, when a source set them, the client's own: both must allow.
    internal IAuthorizer Authorizer { get; private set; }

    /// The CONNECT (or the credentials) mapped the client to another tenant's broker core, before any session:
    /// from here on that core serves it, with its listener's rules there (docs/adr/0021-tenants.md). False when the
    /// tenant was removed meanwhile: the connection is then refused, and its core lets go of it as it closes.
    private bool MoveTo(MqttBroker core)
    {
        if (core == _broker)
            return true;
        _broker.Release(this);
        _broker = core;
        core.Adopt(this); // before the check: a removal that did not see this connection is seen by it
        Interlocked.MemoryBarrier();
        if (core.IsStopping || core.Limits is { Removed: true })
            return false;
        Authorizer = core.Authorizer.ForListener(Info.SecurityListener);
        var hook = Authorizer.Hook;
        if (hook is not null || _credentials is not null)
            (_credentials ??= new CredentialState()).Hook = hook;
        return true;
    }

    /// Called once a source admitted the client, before CONNACK.
    private void ApplyCredentials(ConnectContext context)
    {
        if (context.ClientAuthorizer is { } own)
            Authorizer = new AllOfAuthorizer(Authorizer, own);
        if (context.ExpiresAt is { } expiresAt)
            (_credentials ??= new CredentialState()).ExpiresAt = expiresAt;
    }

    /// After CONNACK: closes the connection when the credentials expire. MQTT 5 clients get DISCONNECT 0xA0
    /// Maximum connect time, "the maximum connection time authorized for this connection has been exceeded"
    /// (section 3.14.2.1): the token bounded how long this connection was authorized.
    private void StartExpiryTimer()
    {
        if (_credentials is not { ExpiresAt: { } expiresAt } state)
            return;
        var delay = expiresAt - _broker.TimeProvider.GetUtcNow();
        if (delay < TimeSpan.Zero)
            delay = TimeSpan.Zero;
        state.ExpiryTimer = _broker.TimeProvider.CreateTimer(static self => ((ClientConnection)self!).CredentialsExpired(), this, delay, Timeout.InfiniteTimeSpan);
    }

    private void CredentialsExpired()
    {
        SecurityMetrics.AuthenticationRefused("expiry", "credentials_expired");
        Logger.LogInformation("Client {ClientId} ({Remote}): its credentials expired; disconnecting", LogName, Info.RemoteEndPoint);
        RequestClose(ReasonCode.MaximumConnectTime, "credentials expired");
    }

    private void StopExpiryTimer() => _credentials?.ExpiryTimer?.Dispose();

    /// A re-authentication succeeded (section 4.12.1): the new credentials replace the old — the client's own rules
    /// and the expiry, so a token renewed before its exp moves the disconnection to the new exp.
    private void ApplyReauthentication(ConnectContext context)
    {
        Authorizer = _broker.Authorizer.ForListener(Info.SecurityListener);
        StopExpiryTimer();
        if (_credentials is { } state)
            state.ExpiresAt = null;
        ApplyCredentials(context);
        StartExpiryTimer();
        if (Logger.IsEnabled(LogLevel.Debug))
            Logger.LogDebug("Client {ClientId} re-authenticated; credentials valid until {ExpiresAt}", LogName, _credentials?.ExpiresAt?.ToString("O") ?? "no expiry");
    }

    /// A PUBLISH on a connection with an authorization hook: the hook is asked first (awaited) when it has no
    /// cached answer for the topic, then the PUBLISH goes the usual way, where the answer is read synchronously.
    private async ValueTask<bool> HandlePublishWithHookAsync(IAuthorizationHook hook, RawPacket raw)
    {
        if (PeekTopic(raw) is { } topic && !hook.IsDecided(ClientId, UserName, AuthorizationAction.Publish, topic))
            await hook.DecideAsync(ClientId, UserName, Info.Listener, Info.RemoteEndPoint, AuthorizationAction.Publish, topic);
        return HandlePublish(raw);
    }

    /// The same for each filter of a SUBSCRIBE.
    private async ValueTask<bool> HandleSubscribeWithHookAsync(IAuthorizationHook hook, RawPacket raw)
    {
        if (MqttDecoder.Decode(raw, Version, out var packet) == DecodeError.None && packet is SubscribePacket subscribe)
        {
            foreach (var requested in subscribe.Subscriptions)
            {
                if (!hook.IsDecided(ClientId, UserName, AuthorizationAction.Subscribe, requested.Filter))
                    await hook.DecideAsync(ClientId, UserName, Info.Listener, Info.RemoteEndPoint, AuthorizationAction.Subscribe, requested.Filter);
            }
        }

        return HandleControl(raw); // decodes again: only connections with a hook pay for it
    }

    /// The topic a PUBLISH names, without registering its alias (HandlePublish does that); null when it is malformed
    /// or names an unknown alias, which HandlePublish then refuses as usual.
    private string? PeekTopic(in RawPacket raw)
    {
        if (MqttDecoder.DecodePublish(raw, Version, out var publish) != DecodeError.None)
            return null;
        if (!publish.Topic.IsEmpty)
            return publish.TopicString;
        var alias = publish.Properties.TopicAlias;
        return alias != 0 && _topicAliases is { } aliases && aliases.TryGetValue(alias, out var known) ? known.Topic : null;
    }
}
