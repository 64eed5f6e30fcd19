using Kirisame.Broker.Delivery;
using Kirisame.Broker.Security;
using Kirisame.Broker.Tenants;
using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Primitives;
using Kirisame.Protocol.Properties;
using Microsoft.Extensions.Logging;

namespace Kirisame.Broker.Sessions;

#pragma warning disable CA1001 // see ClientConnection.cs: the frame reader's buffer is returned in CloseAsync
internal sealed partial class ClientConnection
#pragma warning restore CA1001
{
    /// The client is another broker's bridge (Mosquitto's bridge flag in CONNECT): its subscriptions are No Local
    /// and Retain As Published (ClientConnection.Handlers, HandleSubscribe).
    private bool _isBridge;

    /// The handshake in progress: from CONNECT until the CONNACK that establishes the session or refuses the
    /// client, then dropped, so an established connection carries none of its state.
    private Handshake? _handshake;

    /// Packets before the CONNACK: CONNECT starts the handshake, AUTH continues it; anything else ends the connection.
    private ValueTask<bool> HandleHandshakePacketAsync(in RawPacket raw)
    {
        if (_handshake is { } handshake)
        {
            if (raw.Type == PacketType.Auth && handshake.Authenticating)
                return handshake.ContinueAsync(raw);
            // While authenticating only AUTH may come (section 4.12); a second CONNECT is a protocol error [MQTT-3.1.0-2].
            RequestClose(ReasonCode.ProtocolError);
            return ValueTask.FromResult(false);
        }

        if (raw.Type != PacketType.Connect)
        {
            // The first packet must be CONNECT [MQTT-3.1.0-1].
            if (MayLog("packet before CONNECT"))
                Logger.LogInformation("Connection {ConnectionId} from {Remote} sent {Type} before CONNECT; closing", Info.ConnectionId, Info.RemoteEndPoint, raw.Type);
            return ValueTask.FromResult(false);
        }

        return (_handshake = new Handshake(this)).StartAsync(raw.Flags, raw.Body);
    }

    /// Decodes an AUTH packet and checks that it continues the method chosen in CONNECT [MQTT-4.12.0-5]; closes
    /// the connection (and returns null) when not.
    private AuthPacket? ReadAuth(in RawPacket raw, string? method)
    {
        var error = MqttDecoder.Decode(raw, Version, out var packet);
        if (error != DecodeError.None)
        {
            ProtocolViolation(error, "AUTH");
            return null;
        }

        var auth = (AuthPacket)packet!;
        if (method is null || auth.Properties?.AuthenticationMethod != method)
        {
            RequestClose(ReasonCode.ProtocolError, "AUTH for a method other than the one in CONNECT");
            return null;
        }

        return auth;
    }

    /// The CONNECT exchange of one connection: decoding and checking CONNECT, authentication (a password, or
    /// enhanced authentication over AUTH packets, section 4.12), the session's attachment and the CONNACK.
    /// Nested, so that it sets what the connection learns (version, client id, limits, will, session) without
    /// the connection opening those setters to the rest of the broker.
    private sealed class Handshake(ClientConnection connection)
    {
        private readonly ClientConnection _connection = connection;

        /// The connection's broker core: the operator's, then its tenant's once the CONNECT maps it to one.
        private MqttBroker _broker => _connection._broker;

        /// The client named its tenant (user name prefix, TLS server name) rather than falling to a default.
        private bool _tenantStated;

        /// The CONNECT being answered and the client id assigned to it (when it came without one).
        private ConnectPacket? _connect;
        private string? _assignedId;

        /// Enhanced authentication: the method, the exchange in progress and what it learns of the client.
        private string? _method;
        private IAuthenticationExchange? _exchange;
        private ConnectContext? _context;

        /// Waiting for the client's next AUTH.
        public bool Authenticating => _exchange is not null;

        private ILogger Logger => _connection.Logger;

        public async ValueTask<bool> StartAsync(byte flags, ReadOnlyMemory<byte> body)
        {
            var c = _connection;
            var error = MqttDecoder.CheckFlags(PacketType.Connect, flags);
            ConnectPacket? connect = null;
            if (error == DecodeError.None)
                error = MqttDecoder.DecodeConnect(body.Span, out connect);
            if (error != DecodeError.None)
            {
                var level = MqttDecoder.PeekProtocolLevel(body.Span);
                c.Version = level == 5 ? ProtocolVersion.V500 : ProtocolVersion.V311;
                var reason = DecodeErrors.ToReasonCode(error);
                if (c.MayLog("bad CONNECT"))
                    Logger.LogInformation("Connection {ConnectionId} from {Remote} sent a bad CONNECT: {Error}", c.Info.ConnectionId, c.Info.RemoteEndPoint, error);
                // Unsupported versions get CONNACK 0x01 (v3) / 0x84 (v5) [MQTT-3.1.2-2]; v5 clients learn other reasons too.
                if (reason == ReasonCode.UnsupportedProtocolVersion || c.Version == ProtocolVersion.V500)
                    c.EnqueuePacket(new ConnAckPacket { ReasonCode = reason });
                _broker.Metrics.Refused(reason);
                return false;
            }

            c.Version = connect!.ProtocolVersion;
            var v5 = c.Version == ProtocolVersion.V500;
            if (v5)
            {
                // Known before any reply, so that a refusing CONNACK respects it too [MQTT-3.2.2-19].
                c.ClientMaximumPacketSize = (int)Math.Min(connect.Properties?.MaximumPacketSize ?? int.MaxValue, int.MaxValue);
            }

            var clientId = connect.ClientId;
            if (clientId.Length == 0)
            {
                // 3.1.1: an empty id needs Clean Session 1 [MQTT-3.1.3-8]; 3.1 needs 1 to 23 characters.
                if (c.Version == ProtocolVersion.V310 || (c.Version == ProtocolVersion.V311 && !connect.CleanStart))
                    return Refuse(ReasonCode.ClientIdentifierNotValid, "an empty client id without a clean session");
                clientId = _assignedId = "kirisame-" + Guid.NewGuid().ToString("N"); // [MQTT-3.1.3-6]
            }

            c.ClientId = clientId;
            c.UserName = connect.UserName;
            c._isBridge = connect.IsBridge;
            _connect = connect;
            if (_broker.Options.ServerReference is { } reference)
            {
                // Server redirection (section 4.11): v5 clients are told where to go; v3 ones only that we are unavailable.
                var redirect = _broker.Options.RedirectReason == ServerRedirect.ServerMoved ? ReasonCode.ServerMoved : ReasonCode.UseAnotherServer;
                _broker.Metrics.Refused(redirect);
                Logger.LogInformation("Redirecting client {ClientId} to {Reference}", c.LogName, reference);
                c.EnqueuePacket(new ConnAckPacket
                {
                    ReasonCode = v5 ? redirect : ReasonCode.ServerUnavailable,
                    Properties = v5 ? new MqttProperties { ServerReference = reference } : null,
                });
                return false;
            }

            if (_broker.Cluster?.ConnectRefusal is { } refusal)
                return Refuse(ReasonCode.ServerUnavailable, refusal); // 3.1.1: return code 3, Server unavailable

            var userName = connect.UserName;
            var tenant = TenantDirectory.DefaultTenant;
            if (_broker.Tenants is { } tenants)
            {
                var choice = tenants.Map(userName, c.Info);
                if (choice.Core is null)
                    return Refuse(ReasonCode.NotAuthorized, $"no tenant '{choice.Name}'");
                if (!c.MoveTo(choice.Core))
                    return Refuse(ReasonCode.ServerUnavailable, $"tenant '{choice.Name}' is being removed");
                c.UserName = userName = choice.UserName;
                tenant = choice.Name;
                _tenantStated = choice.Stated;
            }

            var context = new ConnectContext(clientId, userName, connect.Password, c.Info.RemoteEndPoint, c.Info.SecurityListener, c.Version)
            {
                CertificateName = c.Info.CertificateName,
                Tenant = tenant,
            };
            if (v5 && connect.Properties?.AuthenticationMethod is { } methodName)
            {
                // Enhanced authentication (section 4.12): the exchange runs over AUTH packets before CONNACK.
                var method = _broker.FindAuthenticationMethod(methodName);
                if (method is null)
                    return Refuse(ReasonCode.BadAuthenticationMethod, $"authentication method {MqttText.Quote(methodName)} is not supported");
                _method = methodName;
                _context = context;
                _exchange = method.Begin(context);
                return await StepAsync(connect.Properties.AuthenticationData ?? []);
            }

            var verdict = await _broker.Authenticator.AuthenticateAsync(context, CancellationToken.None);
            if (verdict != ReasonCode.Success)
                return Refuse(verdict, (userName is null ? "authentication (no user name)" : $"authentication of user '{MqttText.Quote(userName)}'")
                    + (tenant == TenantDirectory.DefaultTenant ? "" : $" in tenant '{tenant}'")
                    + (context.RefusalReason is { } cause ? $": {cause}" : ""));
            if (context.AssignedTenant is { } assigned && assigned != tenant && !MoveToAssignedTenant(assigned, tenant))
                return false;
            if (context.AssignedUserName is { } assignedUser)
                c.UserName = assignedUser;
            c.ApplyCredentials(context);
            return await CompleteAsync(null);
        }

        /// The client's next AUTH (0x18 Continue authentication).
        public async ValueTask<bool> ContinueAsync(RawPacket raw)
        {
            if (_connection.ReadAuth(raw, _method) is not { } auth)
                return false;
            if (auth.ReasonCode != ReasonCode.ContinueAuthentication)
            {
                // 0x19 starts a re-authentication, which needs an established connection [MQTT-4.12.1-1].
                _connection.RequestClose(ReasonCode.ProtocolError, auth.ReasonCode == ReasonCode.ReAuthenticate ? "re-authentication before CONNACK" : "unexpected AUTH");
                return false;
            }

            return await StepAsync(auth.Properties?.AuthenticationData ?? []);
        }

        private async ValueTask<bool> StepAsync(byte[] data)
        {
            var step = await _exchange!.StepAsync(data);
            switch (step.Outcome)
            {
                case AuthenticationOutcome.Continue:
                    _connection.EnqueuePacket(new AuthPacket
                    {
                        ReasonCode = ReasonCode.ContinueAuthentication,
                        Properties = new MqttProperties { AuthenticationMethod = _method, AuthenticationData = step.Data },
                    });
                    return true;
                case AuthenticationOutcome.Success:
                    _connection.UserName = _exchange.UserName ?? _connection.UserName;
                    _exchange = null;
                    // A token may name the client's tenant as a password can (the JWT tenant claim).
                    var tenant = _broker.TenantName ?? TenantDirectory.DefaultTenant;
                    if (_context!.AssignedTenant is { } assigned && assigned != tenant && !MoveToAssignedTenant(assigned, tenant))
                        return false;
                    _connection.ApplyCredentials(_context!); // a token's rules and expiry (TokenAuthenticationMethod)
                    return await CompleteAsync(step.Data);
                default:
                    _exchange = null;
                    return Refuse(step.Failure, "enhanced authentication failed" + (_context?.RefusalReason is { } cause ? $": {cause}" : ""));
            }
        }

        /// The client is who it says: attaches its session and answers CONNACK.
        private async ValueTask<bool> CompleteAsync(byte[]? authenticationData)
        {
            var c = _connection;
            var connect = _connect!;
            var v5 = c.Version == ProtocolVersion.V500;
            var options = _broker.Options;
            var clientId = c.ClientId;
            var properties = connect.Properties;
            c.KeepAlive = connect.KeepAlive;
            var connAck = new ConnAckPacket();
            uint expiry;
            if (v5)
            {
                c.SendWindow = Math.Min(options.MaxInflightMessages, properties?.ReceiveMaximum ?? ushort.MaxValue);
                c.ProblemInformation = properties?.RequestProblemInformation != 0;
                c.ClientTopicAliasMaximum = properties?.TopicAliasMaximum ?? 0;
                expiry = properties?.SessionExpiryInterval ?? 0;
                var ack = connAck.Properties = new MqttProperties
                {
                    ReceiveMaximum = (ushort)options.ReceiveMaximum,
                    MaximumPacketSize = (uint)options.MaximumPacketSize,
                    TopicAliasMaximum = options.TopicAliasMaximum,
                    AssignedClientIdentifier = _assignedId,
                    MaximumQoS = options.MaximumQoS < 2 ? (byte)options.MaximumQoS : null,
                    RetainAvailable = options.RetainAvailable ? null : (byte)0,
                    // Absent means available (section 3.2.2.3); say so only when they are not.
                    WildcardSubscriptionAvailable = options.WildcardSubscriptionAvailable ? null : (byte)0,
                    SubscriptionIdentifierAvailable = options.SubscriptionIdentifiersAvailable ? null : (byte)0,
                    SharedSubscriptionAvailable = options.SharedSubscriptionAvailable ? null : (byte)0,
                    AuthenticationMethod = _method,
                    AuthenticationData = authenticationData,
                };
                if (options.ServerKeepAlive is { } serverKeepAlive)
                {
                    c.KeepAlive = serverKeepAlive;
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
                c.SendWindow = options.MaxInflightMessages;
                expiry = connect.CleanStart ? 0 : Math.Min(options.DefaultSessionExpirySeconds ?? uint.MaxValue, options.MaxSessionExpirySeconds ?? uint.MaxValue);
            }

            if (connect.Will is { } will)
            {
                if (!options.RetainAvailable && will.Retain)
                    return Refuse(ReasonCode.RetainNotSupported, "a retained will while retain is off");
                if ((int)will.QoS > options.MaximumQoS)
                    return Refuse(ReasonCode.QoSNotSupported, "a will QoS above the maximum");
                c.Will = will;
            }

            // A tenant's connection quota: counted from here, released when the connection ends (or attaches nothing).
            var limits = _broker.Limits;
            if (limits is not null && !limits.TryOpenConnection())
                return Refuse(ReasonCode.QuotaExceeded, $"tenant '{limits.Tenant}' is at its quota of connections ({limits.Quotas.MaxConnections})");
            Attachment attachment;
            try
            {
                attachment = await _broker.AttachSessionAsync(c, c.Info.ConnectionId, clientId, connect.CleanStart, expiry);
            }
            catch
            {
                limits?.ConnectionClosed(); // the connection fails; its place in the quota must not stay taken
                throw;
            }

            if (attachment.Outcome != AttachOutcome.Attached)
                limits?.ConnectionClosed();
            switch (attachment.Outcome)
            {
                case AttachOutcome.OverQuota:
                    return Refuse(v5 ? ReasonCode.QuotaExceeded : ReasonCode.ServerUnavailable,
                        $"too many persistent sessions without a connection (Broker:MaxOfflineSessions {options.MaxOfflineSessions})");
                case AttachOutcome.OverTenantQuota:
                    return Refuse(ReasonCode.QuotaExceeded, $"tenant '{limits!.Tenant}' holds its quota of sessions ({limits.Quotas.MaxSessions})");
                case AttachOutcome.SessionUnavailable:
                    return Refuse(ReasonCode.ServerUnavailable, "its session is on a cluster node that died and is being taken up by another node; try again");
                case AttachOutcome.TakenOver:
                    // A newer CONNECT with this client id came first. No CONNACK code says "taken over"; the
                    // connection is closed, as the holder's would be [MQTT-3.1.4-3].
                    return false;
            }

            var session = attachment.Session!;
            c.Session = session;
            c.SessionEpoch = attachment.Lease.Epoch;
            _broker.Cluster?.Held(clientId, attachment.Lease.Epoch, c.Will);
            if (_method is not null)
                c._reauthentication = new Reauthentication(_method);
            c._handshake = null; // done: the connection keeps what it learnt, not the exchange
            connAck.SessionPresent = attachment.Present;
            // Established (and counted) before the CONNACK can be seen: housekeeping running in between must not take
            // an accepted client for one that sent no CONNECT within ConnectTimeout and close it.
            c.IsEstablished = true;
            _broker.Established(c);
            (c._transport.Input as IInlineReads)?.AllowInlineReads(); // no more password hashing on this connection's reads
            c.EnqueuePacket(connAck);
            if (Logger.IsEnabled(LogLevel.Debug)) // the arguments would be boxed on every connect otherwise
            {
                Logger.LogDebug("Client {ClientId} connected from {Remote} (MQTT {Version}, clean {Clean}, keep alive {KeepAlive})",
                    c.LogName, c.Info.RemoteEndPoint, c.Version, connect.CleanStart, c.KeepAlive);
            }

            _broker.Resume(session, c);
            c.StartExpiryTimer();
            return true;
        }

        /// The client's credentials name its tenant (a JWT claim, the HTTP hook's answer): it is served there, unless
        /// it named another tenant itself, which is refused (0x87) rather than silently moved.
        private bool MoveToAssignedTenant(string assigned, string mapped)
        {
            var c = _connection;
            if (_tenantStated)
                return Refuse(ReasonCode.NotAuthorized, $"credentials for tenant '{assigned}' used in tenant '{mapped}'");
            if ((_broker.Operator ?? _broker).Tenants?.Find(assigned) is not { } core)
                return Refuse(ReasonCode.NotAuthorized, $"credentials name tenant '{assigned}', which does not exist");
            if (!c.MoveTo(core))
                return Refuse(ReasonCode.ServerUnavailable, $"tenant '{assigned}' is being removed");
            return true;
        }

        private bool Refuse(ReasonCode reason, string why)
        {
            var c = _connection;
            _broker.Metrics.Refused(reason);
            if (c.MayLog("refused CONNECT"))
                Logger.LogInformation("Refused connection {ConnectionId} from {Remote} (client {ClientId}): {Why} → {Reason}",
                    c.Info.ConnectionId, c.Info.RemoteEndPoint, c.LogName, why, reason);
            c.EnqueuePacket(new ConnAckPacket
            {
                ReasonCode = reason,
                Properties = c.Version == ProtocolVersion.V500 ? new MqttProperties { ReasonString = why } : null,
            });
            return false;
        }
    }

    /// The epoch of the registry lease under which this connection holds <see cref="Session"/> (a long, not
    /// the lease: every connection keeps it, and the rest of the lease is known).
    internal long SessionEpoch { get; private set; }

    /// The lease to present when letting go of the session.
    internal SessionLease Lease => new(ClientId, SessionEpoch, new SessionHolder(SessionHolder.LocalNode, Info.ConnectionId));
}
