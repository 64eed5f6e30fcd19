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

public sealed partial class ClientConnection
{
    private Dictionary<ushort, (string Topic, byte[] Utf8)>? _topicAliases;
    private string? _lastTopic;
    private byte[]? _lastTopicUtf8;

    /// The will from CONNECT and the protocol version it was sent with.
    public WillMessage? Will { get; private set; }

    /// Returns false when the connection must close.
    private ValueTask<bool> HandlePacketAsync(in RawPacket raw)
    {
        if (!IsEstablished)
        {
            if (raw.Type == PacketType.Auth && _authExchange is not null)
                return HandleAuthAsync(raw);
            if (_pendingConnect is not null)
            {
                // While authenticating only AUTH may come (section 4.12); a second CONNECT is a protocol error [MQTT-3.1.0-2].
                RequestClose(ReasonCode.ProtocolError);
                return ValueTask.FromResult(false);
            }

            if (raw.Type != PacketType.Connect)
            {
                // The first packet must be CONNECT [MQTT-3.1.0-1].
                _logger.LogInformation("Connection {ConnectionId} from {Remote} sent {Type} before CONNECT; closing", Info.ConnectionId, Info.RemoteEndPoint, raw.Type);
                return ValueTask.FromResult(false);
            }

            return HandleConnectAsync(raw.Flags, raw.Body);
        }

        switch (raw.Type)
        {
            case PacketType.Publish:
                return ValueTask.FromResult(HandlePublish(raw));
            case PacketType.PubAck:
            case PacketType.PubRec:
            case PacketType.PubRel:
            case PacketType.PubComp:
                return ValueTask.FromResult(HandleAck(raw));
            case PacketType.Auth:
                return HandleAuthAsync(raw);
            case PacketType.Subscribe:
            case PacketType.Unsubscribe:
            case PacketType.Disconnect:
                return ValueTask.FromResult(HandleControl(raw));
            case PacketType.PingReq:
                if (!raw.Body.IsEmpty)
                {
                    ProtocolViolation(DecodeError.TrailingBytes, "PINGREQ");
                    return ValueTask.FromResult(false);
                }

                EnqueuePingResp();
                return ValueTask.FromResult(true);
            case PacketType.Connect:
                // A second CONNECT is a protocol violation [MQTT-3.1.0-2].
                _logger.LogInformation("Client {ClientId} sent a second CONNECT; closing", LogName);
                RequestClose(ReasonCode.ProtocolError, "second CONNECT");
                return ValueTask.FromResult(false);
            default:
                _logger.LogInformation("Client {ClientId} sent {Type}, which only a server sends; closing", LogName, raw.Type);
                RequestClose(ReasonCode.ProtocolError, $"{raw.Type} is sent only by a server");
                return ValueTask.FromResult(false);
        }
    }

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
            _logger.LogInformation("Connection {ConnectionId} from {Remote} sent a bad CONNECT: {Error}", Info.ConnectionId, Info.RemoteEndPoint, error);
            // Unsupported versions get CONNACK 0x01 (v3) / 0x84 (v5) [MQTT-3.1.2-2]; v5 clients learn other reasons too.
            if (reason == ReasonCode.UnsupportedProtocolVersion || Version == ProtocolVersion.V500)
                EnqueuePacket(new ConnAckPacket { ReasonCode = reason });
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
            _logger.LogInformation("Redirecting client {ClientId} to {Reference}", LogName, reference);
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
            _authMethod = methodName;
            _authExchange = method.Begin(context);
            _pendingConnect = (connect, assignedId);
            var step = _authExchange.Step(connect.Properties.AuthenticationData ?? []);
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
                AuthenticationMethod = _authMethod,
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
            expiry = connect.CleanStart ? 0 : options.MaxSessionExpirySeconds ?? uint.MaxValue;
        }

        if (connect.Will is { } will)
        {
            if (!options.RetainAvailable && will.Retain)
                return Refuse(ReasonCode.RetainNotSupported, "a retained will while retain is off");
            if ((int)will.QoS > options.MaximumQoS)
                return Refuse(ReasonCode.QoSNotSupported, "a will QoS above the maximum");
            Will = will;
        }

        var (session, present) = await _broker.AttachSessionAsync(this, clientId, connect.CleanStart, expiry);
        Session = session;
        connAck.SessionPresent = present;
        // Established (and counted) before the CONNACK can be seen: housekeeping running in between must not take
        // an accepted client for one that sent no CONNECT within ConnectTimeout and close it.
        IsEstablished = true;
        _broker.Established(this);
        EnqueuePacket(connAck);
        if (_logger.IsEnabled(LogLevel.Debug)) // the arguments would be boxed on every connect otherwise
        {
            _logger.LogDebug("Client {ClientId} connected from {Remote} (MQTT {Version}, clean {Clean}, keep alive {KeepAlive})",
                LogName, Info.RemoteEndPoint, Version, connect.CleanStart, KeepAlive);
        }
        _broker.Resume(session, this);
        return true;
    }

    private string? _authMethod;
    private IAuthenticationExchange? _authExchange;
    private (ConnectPacket Connect, string? AssignedId)? _pendingConnect;

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
        if (_authMethod is null || method != _authMethod)
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
            _authExchange = _broker.FindAuthenticationMethod(_authMethod)!.Begin(context);
        }
        else if (auth.ReasonCode != ReasonCode.ContinueAuthentication || _authExchange is null)
        {
            RequestClose(ReasonCode.ProtocolError, "unexpected AUTH");
            return false;
        }

        var step = _authExchange!.Step(auth.Properties?.AuthenticationData ?? []);
        return await ApplyAuthStepAsync(step, reauthenticating: IsEstablished);
    }

    private async ValueTask<bool> ApplyAuthStepAsync(AuthenticationStep step, bool reauthenticating)
    {
        switch (step.Outcome)
        {
            case AuthenticationOutcome.Continue:
                EnqueuePacket(new AuthPacket
                {
                    ReasonCode = ReasonCode.ContinueAuthentication,
                    Properties = new MqttProperties { AuthenticationMethod = _authMethod, AuthenticationData = step.Data },
                });
                return true;
            case AuthenticationOutcome.Success:
                UserName = _authExchange!.UserName ?? UserName;
                _authExchange = null;
                if (reauthenticating)
                {
                    EnqueuePacket(new AuthPacket
                    {
                        ReasonCode = ReasonCode.Success,
                        Properties = new MqttProperties { AuthenticationMethod = _authMethod, AuthenticationData = step.Data },
                    });
                    return true;
                }

                var (connect, assignedId) = _pendingConnect!.Value;
                _pendingConnect = null;
                return await CompleteConnectAsync(connect, assignedId, step.Data);
            default:
                _authExchange = null;
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
        _logger.LogInformation("Refused connection {ConnectionId} from {Remote} (client {ClientId}): {Why} → {Reason}",
            Info.ConnectionId, Info.RemoteEndPoint, LogName, why, reason);
        EnqueuePacket(new ConnAckPacket
        {
            ReasonCode = reason,
            Properties = Version == ProtocolVersion.V500 ? new MqttProperties { ReasonString = why } : null,
        });
        return false;
    }

    /// A PUBACK/PUBREC with an error code; v5 clients that allow it get a Reason String too [MQTT-3.1.2-29].
    internal void EnqueueErrorAck(PacketType type, ushort packetId, ReasonCode reason, string why)
    {
        if (Version == ProtocolVersion.V500 && ProblemInformation)
            EnqueuePacket(new PublishAckPacket(type, packetId, reason, new MqttProperties { ReasonString = why }));
        else
            EnqueueAck(type, packetId, reason);
    }

    private bool HandlePublish(in RawPacket raw)
    {
        var error = MqttDecoder.DecodePublish(raw, Version, out var publish);
        if (error != DecodeError.None)
        {
            ProtocolViolation(error, "PUBLISH");
            return false;
        }

        var options = _broker.Options;
        var qos = publish.QoS;
        if ((int)qos > options.MaximumQoS)
        {
            if (Version == ProtocolVersion.V500)
            {
                RequestClose(ReasonCode.QoSNotSupported, $"QoS {(int)qos} is above the maximum {options.MaximumQoS}"); // section 3.2.2.3.4: the client broke 3.2.2-11
                return false;
            }

            qos = (QualityOfService)options.MaximumQoS;
        }

        var retain = publish.Retain;
        if (retain && !options.RetainAvailable)
        {
            if (Version == ProtocolVersion.V500)
            {
                RequestClose(ReasonCode.RetainNotSupported, "retain is not available"); // section 3.2.2.3.5: the client broke 3.2.2-14
                return false;
            }

            retain = false;
        }

        if (!ResolveTopic(publish, out var topic, out var topicUtf8, out var aliasError))
        {
            ProtocolViolation(aliasError, "topic alias");
            return false;
        }

        var ackType = publish.QoS == QualityOfService.ExactlyOnce ? PacketType.PubRec : PacketType.PubAck;
        if (!_broker.WithinTopicLimits(topicUtf8.Length, topicUtf8.Span.Count((byte)'/') + 1))
        {
            if (publish.QoS != QualityOfService.AtMostOnce)
                EnqueueErrorAck(ackType, publish.PacketId, ReasonCode.TopicNameInvalid, "topic longer or deeper than this server accepts");
            Interlocked.Increment(ref _broker.Statistics.MessagesDropped);
            return true;
        }

        if (options.MaxPublishRate > 0 || options.MaxPublishBytesRate > 0)
        {
            var debt = TakePublishTokens(raw.TotalLength);
            if (debt > TimeSpan.Zero)
            {
                if (options.PublishRateAction == PublishRateAction.Disconnect)
                {
                    _logger.LogInformation("Client {ClientId} ({Remote}) publishes faster than allowed; closing", LogName, Info.RemoteEndPoint);
                    RequestClose(ReasonCode.MessageRateTooHigh, "publish rate above the limit");
                    return false;
                }

                _readPause = debt;
            }
        }
        if (publish.Properties.PayloadFormatIndicator == 1 && !System.Text.Unicode.Utf8.IsValid(publish.Payload.Span))
        {
            // Payload declared UTF-8 but is not: refused with 0x99 (section 3.3.2.3.2, the receiver's option).
            if (publish.QoS != QualityOfService.AtMostOnce)
                EnqueueErrorAck(ackType, publish.PacketId, ReasonCode.PayloadFormatInvalid, "payload is not valid UTF-8");
            Interlocked.Increment(ref _broker.Statistics.MessagesDropped);
            return true;
        }

        Interlocked.Increment(ref _broker.Statistics.MessagesReceived);
        if (topic == "$SYS" || topic.StartsWith("$SYS/", StringComparison.Ordinal) || !Authorizer.CanPublish(ClientId, UserName, topic))
        {
            // Clients never publish to $SYS; denied publishes are dropped and counted.
            Interlocked.Increment(ref _broker.Statistics.MessagesDropped);
            if (_logger.IsEnabled(LogLevel.Debug))
                _logger.LogDebug("Client {ClientId} may not publish to {Topic}; dropped", LogName, MqttText.Quote(topic));
            if (publish.QoS != QualityOfService.AtMostOnce)
                EnqueueErrorAck(ackType, publish.PacketId, ReasonCode.NotAuthorized, "not authorized to publish to " + MqttText.Quote(topic));
            return true;
        }

        if (publish.QoS != QualityOfService.AtMostOnce && !_broker.Store.Healthy)
        {
            // The store cannot write (disk full?): a QoS 1/2 message could not be kept as promised, so it is
            // refused rather than acknowledged; v3 has no refusing acknowledgement, so the connection closes.
            Interlocked.Increment(ref _broker.Statistics.MessagesDropped);
            if (Version != ProtocolVersion.V500)
            {
                RequestClose(ReasonCode.UnspecifiedError, "storage unavailable");
                return false;
            }

            EnqueueErrorAck(ackType, publish.PacketId, ReasonCode.QuotaExceeded, "storage unavailable; try again later");
            return true;
        }

        if (publish.QoS == QualityOfService.ExactlyOnce)
        {
            var session = Session!;
            bool duplicate;
            lock (session.Sync)
            {
                duplicate = session.InboundQoS2.Contains(publish.PacketId);
                if (!duplicate)
                {
                    if (session.InboundQoS2.Count >= options.ReceiveMaximum && Version == ProtocolVersion.V500)
                    {
                        RequestClose(ReasonCode.ReceiveMaximumExceeded, "more QoS 2 messages in flight than Receive Maximum"); // section 3.3.4: the client broke 3.3.4-7
                        return false;
                    }

                    session.InboundQoS2.Add(publish.PacketId);
                    if (session.Durable)
                        _broker.Store.PutInboundQoS2(session.ClientId, publish.PacketId);
                }
            }

            if (duplicate)
            {
                // Exactly once: a re-sent PUBLISH before PUBREL is acknowledged, not routed again [MQTT-4.3.3-10].
                EnqueueDurableAck(PacketType.PubRec, publish.PacketId, ReasonCode.Success);
                return true;
            }
        }

        var matched = _broker.Publish(publish, qos, retain, topic, topicUtf8, ClientId, _readTicks != 0 ? _readTicks : _broker.TimeProvider.GetTimestamp());
        if (publish.QoS != QualityOfService.AtMostOnce)
        {
            var reason = matched == 0 && Version == ProtocolVersion.V500 ? ReasonCode.NoMatchingSubscribers : ReasonCode.Success;
            EnqueueDurableAck(ackType, publish.PacketId, reason);
        }

        return true;
    }

    private int _deferredAcks;

    /// PUBACK/PUBREC go out only once what the message changed in the store is durable (the promise of the
    /// durable modes). Acks stay in the order the PUBLISHes came [MQTT-4.6.0-2], [MQTT-4.6.0-3]: once one is
    /// waiting, later ones wait behind it.
    private void EnqueueDurableAck(PacketType type, ushort packetId, ReasonCode reason)
    {
        var store = _broker.Store;
        var mark = store.Mark();
        if (Volatile.Read(ref _deferredAcks) == 0 && store.IsDurable(mark))
        {
            EnqueueAck(type, packetId, reason);
            return;
        }

        Interlocked.Increment(ref _deferredAcks);
        store.WhenDurable(mark, static state =>
        {
            var ack = (DeferredAck)state!;
            ack.Connection.EnqueueAck(ack.Type, ack.PacketId, ack.Reason);
            Interlocked.Decrement(ref ack.Connection._deferredAcks);
        }, new DeferredAck(this, type, packetId, reason));
    }

    private sealed record DeferredAck(ClientConnection Connection, PacketType Type, ushort PacketId, ReasonCode Reason);

    /// Resolves the topic (and v5 Topic Alias). Reuses the last topic's string when the bytes repeat, so a
    /// publisher sending to one topic does not allocate a string per message.
    private bool ResolveTopic(in PublishPacket publish, out string topic, out ReadOnlyMemory<byte> utf8, out DecodeError error)
    {
        error = DecodeError.None;
        var alias = publish.Properties.TopicAlias;
        var bytes = publish.Topic.Span;
        if (alias != 0)
        {
            if (alias > _broker.Options.TopicAliasMaximum)
            {
                topic = "";
                utf8 = default;
                error = DecodeError.TopicAliasOutOfRange; // 0x94 Topic Alias invalid (section 3.3.2.3.4: the client broke 3.3.2-9)
                return false;
            }

            _topicAliases ??= [];
            if (bytes.IsEmpty)
            {
                if (!_topicAliases.TryGetValue(alias, out var known))
                {
                    topic = "";
                    utf8 = default;
                    error = DecodeError.EmptyTopicName; // an alias never set: protocol error
                    return false;
                }

                topic = known.Topic;
                utf8 = known.Utf8;
                return true;
            }
        }

        if (_lastTopicUtf8 is null || !bytes.SequenceEqual(_lastTopicUtf8))
        {
            _lastTopicUtf8 = bytes.ToArray();
            _lastTopic = System.Text.Encoding.UTF8.GetString(bytes);
        }

        topic = _lastTopic!;
        utf8 = _lastTopicUtf8;
        if (alias != 0)
            _topicAliases![alias] = (topic, _lastTopicUtf8);
        return true;
    }

    private bool HandleAck(in RawPacket raw)
    {
        var error = MqttDecoder.DecodePublishAck(raw, Version, out var packetId, out var reason);
        if (error != DecodeError.None)
        {
            ProtocolViolation(error, raw.Type.ToString());
            return false;
        }

        switch (raw.Type)
        {
            case PacketType.PubAck:
                _broker.Acknowledged(this, packetId, PacketType.PubAck, reason);
                break;
            case PacketType.PubRec:
                _broker.Acknowledged(this, packetId, PacketType.PubRec, reason);
                break;
            case PacketType.PubComp:
                _broker.Acknowledged(this, packetId, PacketType.PubComp, reason);
                break;
            case PacketType.PubRel:
                var session = Session!;
                bool known;
                lock (session.Sync)
                {
                    known = session.InboundQoS2.Remove(packetId);
                    if (known && session.Durable)
                        _broker.Store.DeleteInboundQoS2(session.ClientId, packetId);
                }
                EnqueueAck(PacketType.PubComp, packetId, known ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound);
                break;
        }

        return true;
    }

    private bool HandleControl(in RawPacket raw)
    {
        var error = MqttDecoder.Decode(raw, Version, out var packet);
        if (error != DecodeError.None)
        {
            ProtocolViolation(error, raw.Type.ToString());
            return false;
        }

        switch (packet)
        {
            case SubscribePacket subscribe:
                _broker.Subscribe(this, subscribe);
                return true;
            case UnsubscribePacket unsubscribe:
                _broker.Unsubscribe(this, unsubscribe);
                return true;
            case DisconnectPacket disconnect:
                return HandleDisconnect(disconnect);
            default:
                // AUTH without an authentication method in CONNECT is a protocol error (section 4.12; the client broke 4.12.0-7).
                RequestClose(ReasonCode.ProtocolError, "AUTH without an authentication method");
                return false;
        }
    }

    private bool HandleDisconnect(DisconnectPacket disconnect)
    {
        var session = Session!;
        if (disconnect.Properties?.SessionExpiryInterval is { } expiry)
        {
            // A session that was to end with the connection cannot be extended now (section 3.14.2.2.2).
            if (session.ExpiryInterval == 0 && expiry != 0)
            {
                RequestClose(ReasonCode.ProtocolError, "session expiry cannot be raised from 0 at DISCONNECT");
                return false;
            }

            lock (session.Sync)
            {
                var wasDurable = session.Durable;
                session.ExpiryInterval = _broker.Options.MaxSessionExpirySeconds is { } cap ? Math.Min(expiry, cap) : expiry;
                if (session.Durable)
                    _broker.Store.PutSession(session);
                else if (wasDurable)
                    _broker.Store.DeleteSession(session.ClientId);
            }
        }

        // 0x04 asks for the will to be published anyway; any other DISCONNECT discards it [MQTT-3.14.4-3].
        _disconnectedNormally = disconnect.ReasonCode != ReasonCode.DisconnectWithWillMessage;
        if (_logger.IsEnabled(LogLevel.Debug))
            _logger.LogDebug("Client {ClientId} disconnected ({Reason})", LogName, disconnect.ReasonCode);
        return false;
    }
}
