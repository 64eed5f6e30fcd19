using Kirisame.Broker.Delivery;
using Kirisame.Broker.Security;
using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Primitives;
using Kirisame.Protocol.Properties;
using Microsoft.Extensions.Logging;

namespace Kirisame.Broker.Sessions;

/// The handshake: CONNECT, enhanced authentication over AUTH (section 4.12, also re-authentication), and the
/// CONNACK that establishes the session or refuses the client.
#pragma warning disable CA1001 // see ClientConnection.cs: the frame reader's buffer is returned in CloseAsync
internal sealed partial class ClientConnection
#pragma warning restore CA1001
{
    private async ValueTask<bool> HandleConnectAsync(byte flags, ReadOnlyMemory<byte> body)
    {
        var error = MqttDecoder.CheckFlags(PacketType.Connect, flags);
        ConnectPacket? connect = null;
        if (error == DecodeError.None)
            error = MqttDecoder.DecodeConnect(body.Span, out connect);
        if (error != DecodeError.None)
        {
            var level = MqttDecoder.PeekProtocolLevel(body.Span);
            Version = level == 5 ? ProtocolVersion.V500 : ProtocolVersion.V311;
            var reason = DecodeErrors.ToReasonCode(error);
            if (MayLog("bad CONNECT"))
                Logger.LogInformation("Connection {ConnectionId} from {Remote} sent a bad CONNECT: {Error}", Info.ConnectionId, Info.RemoteEndPoint, error);
            // Unsupported versions get CONNACK 0x01 (v3) / 0x84 (v5) [MQTT-3.1.2-2]; v5 clients learn other reasons too.
            if (reason == ReasonCode.UnsupportedProtocolVersion || Version == ProtocolVersion.V500)
                EnqueuePacket(new ConnAckPacket { ReasonCode = reason });
            _broker.Metrics.Refused(reason);
            return false;
        }

        Version = connect!.ProtocolVersion;
        var v5 = Version == ProtocolVersion.V500;
        if (v5)
        {
            // Known before any reply, so that a refusing CONNACK respects it too [MQTT-3.2.2-19].
            ClientMaximumPacketSize = (int)Math.Min(connect.Properties?.MaximumPacketSize ?? int.MaxValue, int.MaxValue);
        }

        var options = _broker.Options;
        var clientId = connect.ClientId;
        string? assignedId = null;
        if (clientId.Length == 0)
        {
            // 3.1.1: an empty id needs Clean Session 1 [MQTT-3.1.3-8]; 3.1 needs 1 to 23 characters.
            if (Version == ProtocolVersion.V310 || (Version == ProtocolVersion.V311 && !connect.CleanStart))
                return Refuse(ReasonCode.ClientIdentifierNotValid, "an empty client id without a clean session");
            clientId = assignedId = "kirisame-" + Guid.NewGuid().ToString("N"); // [MQTT-3.1.3-6]
        }

        ClientId = clientId;
        UserName = connect.UserName;
        if (options.ServerReference is { } reference)
        {
            // Server redirection (section 4.11): v5 clients are told where to go; v3 ones only that we are unavailable.
            var redirect = options.RedirectReason == ServerRedirect.ServerMoved ? ReasonCode.ServerMoved : ReasonCode.UseAnotherServer;
            _broker.Metrics.Refused(redirect);
            Logger.LogInformation("Redirecting client {ClientId} to {Reference}", LogName, reference);
            EnqueuePacket(new ConnAckPacket
            {
                ReasonCode = v5 ? redirect : ReasonCode.ServerUnavailable,
                Properties = v5 ? new MqttProperties { ServerReference = reference } : null,
            });
            return false;
        }

        var context = new ConnectContext(clientId, connect.UserName, connect.Password, Info.RemoteEndPoint, Info.Listener, Version)
        {
            CertificateName = Info.CertificateName,
        };
        if (v5 && connect.Properties?.AuthenticationMethod is { } methodName)
        {
            // Enhanced authentication (section 4.12): the exchange runs over AUTH packets before CONNACK.
            var method = _broker.FindAuthenticationMethod(methodName);
            if (method is null)
                return Refuse(ReasonCode.BadAuthenticationMethod, $"authentication method {MqttText.Quote(methodName)} is not supported");
            var auth = _auth = new EnhancedAuthentication(methodName) { Exchange = method.Begin(context), PendingConnect = (connect, assignedId) };
            var step = auth.Exchange.Step(connect.Properties.AuthenticationData ?? []);
            return await ApplyAuthStepAsync(step, reauthenticating: false);
        }

        var verdict = await _broker.Authenticator.AuthenticateAsync(context, CancellationToken.None);
        if (verdict != ReasonCode.Success)
            return Refuse(verdict, connect.UserName is null ? "authentication (no user name)" : $"authentication of user '{MqttText.Quote(connect.UserName)}'");
        if (context.AssignedUserName is { } assigned)
            UserName = assigned;
        return await CompleteConnectAsync(connect, assignedId, null);
    }

    private async ValueTask<bool> CompleteConnectAsync(ConnectPacket connect, string? assignedId, byte[]? authenticationData)
    {
        var v5 = Version == ProtocolVersion.V500;
        var options = _broker.Options;
        var clientId = ClientId;
        var properties = connect.Properties;
        KeepAlive = connect.KeepAlive;
        var connAck = new ConnAckPacket();
        uint expiry;
        if (v5)
        {
            SendWindow = Math.Min(options.MaxInflightMessages, properties?.ReceiveMaximum ?? ushort.MaxValue);
            ProblemInformation = properties?.RequestProblemInformation != 0;
            ClientTopicAliasMaximum = properties?.TopicAliasMaximum ?? 0;
            expiry = properties?.SessionExpiryInterval ?? 0;
            var ack = connAck.Properties = new MqttProperties
            {
                ReceiveMaximum = (ushort)options.ReceiveMaximum,
                MaximumPacketSize = (uint)options.MaximumPacketSize,
                TopicAliasMaximum = options.TopicAliasMaximum,
                AssignedClientIdentifier = assignedId,
                MaximumQoS = options.MaximumQoS < 2 ? (byte)options.MaximumQoS : null,
                RetainAvailable = options.RetainAvailable ? null : (byte)0,
                // Absent means available (section 3.2.2.3); say so only when they are not.
                WildcardSubscriptionAvailable = options.WildcardSubscriptionAvailable ? null : (byte)0,
                SubscriptionIdentifierAvailable = options.SubscriptionIdentifiersAvailable ? null : (byte)0,
                SharedSubscriptionAvailable = options.SharedSubscriptionAvailable ? null : (byte)0,
                AuthenticationMethod = _auth?.Method,
                AuthenticationData = authenticationData,
            };
            if (options.ServerKeepAlive is { } serverKeepAlive)
            {
                KeepAlive = serverKeepAlive;
                ack.ServerKeepAlive = serverKeepAlive;
            }

            if (options.MaxSessionExpirySeconds is { } cap && expiry > cap)
            {
                expiry = cap;
                ack.SessionExpiryInterval = cap;
            }

            // Prefix + client id may not fit a string field (a client id can be 64 KiB): then none is sent, which the
            // client must accept (section 3.2.2.3.15), rather than a cut one that names the wrong topic.
            if (properties?.RequestResponseInformation == 1 && options.ResponseInformationPrefix.Length > 0
                && System.Text.Encoding.UTF8.GetByteCount(options.ResponseInformationPrefix) + System.Text.Encoding.UTF8.GetByteCount(clientId) <= MqttText.MaxStringBytes)
                ack.ResponseInformation = options.ResponseInformationPrefix + clientId;
        }
        else
        {
            SendWindow = options.MaxInflightMessages;
            expiry = connect.CleanStart ? 0 : Math.Min(options.DefaultSessionExpirySeconds ?? uint.MaxValue, options.MaxSessionExpirySeconds ?? uint.MaxValue);
        }

        if (connect.Will is { } will)
        {
            if (!options.RetainAvailable && will.Retain)
                return Refuse(ReasonCode.RetainNotSupported, "a retained will while retain is off");
            if ((int)will.QoS > options.MaximumQoS)
                return Refuse(ReasonCode.QoSNotSupported, "a will QoS above the maximum");
            Will = will;
        }

        var attachment = await _broker.AttachSessionAsync(this, Info.ConnectionId, clientId, connect.CleanStart, expiry);
        switch (attachment.Outcome)
        {
            case AttachOutcome.OverQuota:
                return Refuse(v5 ? ReasonCode.QuotaExceeded : ReasonCode.ServerUnavailable,
                    $"too many persistent sessions without a connection (Broker:MaxOfflineSessions {options.MaxOfflineSessions})");
            case AttachOutcome.TakenOver:
                // A newer CONNECT with this client id came first. No CONNACK code says "taken over"; the
                // connection is closed, as the holder's would be [MQTT-3.1.4-3].
                return false;
        }

        var session = attachment.Session!;
        Session = session;
        SessionEpoch = attachment.Lease.Epoch;
        connAck.SessionPresent = attachment.Present;
        // Established (and counted) before the CONNACK can be seen: housekeeping running in between must not take
        // an accepted client for one that sent no CONNECT within ConnectTimeout and close it.
        IsEstablished = true;
        _broker.Established(this);
        (_transport.Input as IInlineReads)?.AllowInlineReads(); // no more password hashing on this connection's reads
        EnqueuePacket(connAck);
        if (Logger.IsEnabled(LogLevel.Debug)) // the arguments would be boxed on every connect otherwise
        {
            Logger.LogDebug("Client {ClientId} connected from {Remote} (MQTT {Version}, clean {Clean}, keep alive {KeepAlive})",
                LogName, Info.RemoteEndPoint, Version, connect.CleanStart, KeepAlive);
        }
        _broker.Resume(session, this);
        return true;
    }

    /// The epoch of the registry lease under which this connection holds <see cref="Session"/> (a long, not
    /// the lease: every connection keeps it, and the rest of the lease is known).
    internal long SessionEpoch { get; private set; }

    /// The lease to present when letting go of the session.
    internal SessionLease Lease => new(ClientId, SessionEpoch, new SessionHolder(SessionHolder.LocalNode, Info.ConnectionId));

    /// Made only by a client that authenticates over AUTH (section 4.12): most never do, so idle connections
    /// do not carry its fields.
    private EnhancedAuthentication? _auth;

    private sealed class EnhancedAuthentication(string method)
    {
        /// The method chosen in CONNECT; re-authentication must use it too.
        public string Method { get; } = method;

        /// The exchange in progress, if any.
        public IAuthenticationExchange? Exchange { get; set; }

        /// The CONNECT being authenticated, answered once the exchange succeeds.
        public (ConnectPacket Connect, string? AssignedId)? PendingConnect { get; set; }
    }

    private async ValueTask<bool> HandleAuthAsync(RawPacket raw)
    {
        var error = MqttDecoder.Decode(raw, Version, out var packet);
        if (error != DecodeError.None)
        {
            ProtocolViolation(error, "AUTH");
            return false;
        }

        var auth = (AuthPacket)packet!;
        var method = auth.Properties?.AuthenticationMethod;
        // AUTH only continues the method chosen in CONNECT [MQTT-4.12.0-5]; 0x19 starts a re-authentication [MQTT-4.12.1-1].
        if (_auth is not { } state || method != state.Method)
        {
            RequestClose(ReasonCode.ProtocolError, "AUTH for a method other than the one in CONNECT");
            return false;
        }

        if (auth.ReasonCode == ReasonCode.ReAuthenticate)
        {
            if (!IsEstablished)
            {
                RequestClose(ReasonCode.ProtocolError, "re-authentication before CONNACK");
                return false;
            }

            var context = new ConnectContext(ClientId, UserName, null, Info.RemoteEndPoint, Info.Listener, Version);
            state.Exchange = _broker.FindAuthenticationMethod(state.Method)!.Begin(context);
        }
        else if (auth.ReasonCode != ReasonCode.ContinueAuthentication || state.Exchange is null)
        {
            RequestClose(ReasonCode.ProtocolError, "unexpected AUTH");
            return false;
        }

        var step = state.Exchange!.Step(auth.Properties?.AuthenticationData ?? []);
        return await ApplyAuthStepAsync(step, reauthenticating: IsEstablished);
    }

    private async ValueTask<bool> ApplyAuthStepAsync(AuthenticationStep step, bool reauthenticating)
    {
        var state = _auth!;
        switch (step.Outcome)
        {
            case AuthenticationOutcome.Continue:
                EnqueuePacket(new AuthPacket
                {
                    ReasonCode = ReasonCode.ContinueAuthentication,
                    Properties = new MqttProperties { AuthenticationMethod = state.Method, AuthenticationData = step.Data },
                });
                return true;
            case AuthenticationOutcome.Success:
                UserName = state.Exchange!.UserName ?? UserName;
                state.Exchange = null;
                if (reauthenticating)
                {
                    EnqueuePacket(new AuthPacket
                    {
                        ReasonCode = ReasonCode.Success,
                        Properties = new MqttProperties { AuthenticationMethod = state.Method, AuthenticationData = step.Data },
                    });
                    return true;
                }

                var (connect, assignedId) = state.PendingConnect!.Value;
                state.PendingConnect = null;
                return await CompleteConnectAsync(connect, assignedId, step.Data);
            default:
                state.Exchange = null;
                if (reauthenticating)
                {
                    // A failed re-authentication ends the connection [MQTT-4.12.1-2].
                    RequestClose(step.Failure == ReasonCode.BadUserNameOrPassword ? ReasonCode.NotAuthorized : step.Failure, "re-authentication failed");
                    return false;
                }

                return Refuse(step.Failure, "enhanced authentication failed");
        }
    }

    private bool Refuse(ReasonCode reason, string why)
    {
        _broker.Metrics.Refused(reason);
        if (MayLog("refused CONNECT"))
            Logger.LogInformation("Refused connection {ConnectionId} from {Remote} (client {ClientId}): {Why} → {Reason}",
            Info.ConnectionId, Info.RemoteEndPoint, LogName, why, reason);
        EnqueuePacket(new ConnAckPacket
        {
            ReasonCode = reason,
            Properties = Version == ProtocolVersion.V500 ? new MqttProperties { ReasonString = why } : null,
        });
        return false;
    }
}
