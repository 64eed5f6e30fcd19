using Kirisame.Broker.Delivery;
using Kirisame.Broker.Diagnostics;
using Kirisame.Broker.Security;
using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Primitives;
using Kirisame.Protocol.Properties;
using Microsoft.Extensions.Logging;

namespace Kirisame.Broker.Sessions;

internal sealed partial class ClientConnection
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
            return HandleHandshakePacketAsync(raw);

        switch (raw.Type)
        {
            case PacketType.Publish:
                // One null check for connections without an authorization hook (nearly all of them).
                return _credentials?.Hook is { } publishHook ? HandlePublishWithHookAsync(publishHook, raw) : ValueTask.FromResult(HandlePublish(raw));
            case PacketType.PubAck:
            case PacketType.PubRec:
            case PacketType.PubRel:
            case PacketType.PubComp:
                return ValueTask.FromResult(HandleAck(raw));
            case PacketType.Auth:
                return HandleReauthenticationAsync(raw);
            case PacketType.Subscribe when _credentials?.Hook is { } subscribeHook:
                return HandleSubscribeWithHookAsync(subscribeHook, raw);
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
                if (MayLog("protocol error"))
                    Logger.LogInformation("Client {ClientId} sent a second CONNECT; closing", LogName);
                RequestClose(ReasonCode.ProtocolError, "second CONNECT");
                return ValueTask.FromResult(false);
            default:
                if (MayLog("protocol error"))
                    Logger.LogInformation("Client {ClientId} sent {Type}, which only a server sends; closing", LogName, raw.Type);
                RequestClose(ReasonCode.ProtocolError, $"{raw.Type} is sent only by a server");
                return ValueTask.FromResult(false);
        }
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
        var v5 = Version == ProtocolVersion.V500;
        var qos = publish.QoS;
        var retain = publish.Retain;
        if (!v5)
        {
            // 3.1.1 has no way to refuse these: the message is downgraded instead.
            if ((int)qos > options.MaximumQoS)
                qos = (QualityOfService)options.MaximumQoS;
            if (retain && !options.RetainAvailable)
                retain = false;
        }

        if (!ResolveTopic(publish, out var topic, out var topicUtf8, out var aliasError))
        {
            ProtocolViolation(aliasError, "topic alias");
            return false;
        }

        var ackType = publish.QoS == QualityOfService.ExactlyOnce ? PacketType.PubRec : PacketType.PubAck;
        if (options.MaxPublishRate > 0 || options.MaxPublishBytesRate > 0)
        {
            var debt = TakePublishTokens(raw.TotalLength);
            if (debt > TimeSpan.Zero)
            {
                if (options.PublishRateAction == PublishRateAction.Disconnect)
                {
                    if (MayLog("publish rate"))
                        Logger.LogInformation("Client {ClientId} ({Remote}) publishes faster than allowed; closing", LogName, Info.RemoteEndPoint);
                    RequestClose(ReasonCode.MessageRateTooHigh, "publish rate above the limit");
                    return false;
                }

                _publishBuckets!.Pause = debt; // made by TakePublishTokens
            }
        }

        // Tracing (ADR 0019): one check of the source when off; the span is current until this method returns.
        using var traced = BrokerTracing.Enabled ? BrokerTracing.StartPublish(publish.Properties, topic, ClientId, qos, publish.Payload.Length) : null;
        ReasonCode verdict;
        string? why;
        using (traced is null ? null : BrokerTracing.StartStep("authorize"))
            verdict = _broker.AdmitPublish(AsPublisher, topic, topicUtf8.Span, qos, retain, publish.Properties, publish.Payload.Span, out why);
        if (verdict != ReasonCode.Success)
        {
            BrokerTracing.Refused(traced, verdict, why);
            // A tenant's queued or retained quota (a tenant's core has no store that can fail): logged at most once a
            // minute per address and reaction — a refusal, or a 3.1.1 client closed (docs/adr/0021-tenants.md).
            if (verdict == ReasonCode.QuotaExceeded && _broker.Limits is not null && MayLog(v5 ? "tenant quota" : "tenant quota, closed"))
                Logger.LogInformation("Client {ClientId} ({Remote}): {Why}; {Reaction}", LogName, Info.RemoteEndPoint, why,
                    v5 ? "refused with 0x97" : "closing (MQTT 3.1.1 cannot refuse a message)");
            switch (verdict)
            {
                case ReasonCode.QoSNotSupported or ReasonCode.RetainNotSupported:
                    // The client broke what CONNACK told it (section 3.2.2.3.4 and 3.2.2.3.5).
                    RequestClose(verdict, why);
                    return false;
                case ReasonCode.MessageRateTooHigh:
                    // Its tenant's message rate (docs/adr/0021-tenants.md): 0x96 is a DISCONNECT code, PUBACK has none.
                    if (MayLog("tenant rate"))
                        Logger.LogInformation("Client {ClientId} ({Remote}): {Why}; closing", LogName, Info.RemoteEndPoint, why);
                    RequestClose(verdict, why);
                    return false;
                case ReasonCode.QuotaExceeded when !v5:
                    // 3.1.1 has no refusing acknowledgement: the connection closes rather than acknowledge a
                    // message that could not be kept.
                    RequestClose(ReasonCode.UnspecifiedError, why);
                    return false;
                case ReasonCode.NotAuthorized when MayLog("refused PUBLISH"):
                    // Every refusal is logged (issue 18, item 4): in full once a minute per address, then summed up.
                    Logger.LogInformation("Client {ClientId} ({Remote}) may not publish to '{Topic}'; dropped", LogName, Info.RemoteEndPoint, MqttText.Quote(topic));
                    break;
            }

            if (publish.QoS != QualityOfService.AtMostOnce)
                EnqueueErrorAck(ackType, publish.PacketId, verdict, why!);
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
                    session.Journal.InboundQoS2Received(publish.PacketId);
                }
            }

            if (duplicate)
            {
                // Exactly once: a re-sent PUBLISH before PUBREL is acknowledged, not routed again [MQTT-4.3.3-10].
                EnqueueDurableAck(PacketType.PubRec, publish.PacketId, ReasonCode.Success);
                return true;
            }
        }

        int matched;
        // Routing notes on the gate the subscribers that are behind; the read loop waits for them before reading on.
        using (var deliver = traced is null ? null : BrokerTracing.StartStep("deliver"))
        {
            using (Gate.Enter())
                matched = _broker.Publish(publish, qos, retain, topic, topicUtf8, ClientId, _readTicks != 0 ? _readTicks : _broker.TimeProvider.GetTimestamp());
            deliver?.SetTag("kirisame.recipients", matched); // one span for the fan-out, not one per subscriber
        }

        if (publish.QoS != QualityOfService.AtMostOnce)
        {
            if (traced is not null)
                _broker.Store.WhenDurable(_broker.Store.Mark(), BrokerTracing.StoreCommitted, BrokerTracing.StoreCommitStarted(traced));
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
                _broker.Acknowledged(Session!, this, packetId, PacketType.PubAck, reason);
                break;
            case PacketType.PubRec:
                _broker.Acknowledged(Session!, this, packetId, PacketType.PubRec, reason);
                break;
            case PacketType.PubComp:
                _broker.Acknowledged(Session!, this, packetId, PacketType.PubComp, reason);
                break;
            case PacketType.PubRel:
                var session = Session!;
                bool known;
                lock (session.Sync)
                {
                    known = session.InboundQoS2.Remove(packetId);
                    if (known)
                        session.Journal.InboundQoS2Released(packetId);
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
                return HandleSubscribe(subscribe);
            case UnsubscribePacket unsubscribe:
                var unsubscribed = _broker.Unsubscribe(Session!, AsSubscriber, unsubscribe.Filters);
                EnqueuePacket(new UnsubAckPacket
                {
                    PacketId = unsubscribe.PacketId,
                    ReasonCodes = Version == ProtocolVersion.V500 ? unsubscribed.Codes : [],
                    Properties = ReasonStringProperties(unsubscribed.ReasonString),
                });
                return true;
            case DisconnectPacket disconnect:
                return HandleDisconnect(disconnect);
            default:
                // AUTH without an authentication method in CONNECT is a protocol error (section 4.12; the client broke 4.12.0-7).
                RequestClose(ReasonCode.ProtocolError, "AUTH without an authentication method");
                return false;
        }
    }

    private Publisher AsPublisher => new(ClientId, UserName, Authorizer);

    private Subscriber AsSubscriber => new(ClientId, UserName, Authorizer, Version == ProtocolVersion.V500, Version == ProtocolVersion.V500 && ProblemInformation);

    private static MqttProperties? ReasonStringProperties(string? reasonString) => reasonString is null ? null : new MqttProperties { ReasonString = reasonString };

    private bool HandleSubscribe(SubscribePacket subscribe)
    {
        var subscriptionId = subscribe.Properties?.SubscriptionIdentifiers is [var id, ..] ? id : 0u;
        if (subscriptionId != 0 && !_broker.Options.SubscriptionIdentifiersAvailable)
        {
            RequestClose(ReasonCode.SubscriptionIdentifiersNotSupported, "subscription identifiers are not available"); // 0xA1, section 3.2.2.3.12
            return false;
        }

        var session = Session!;
        var subscriptions = subscribe.Subscriptions;
        if (_isBridge)
        {
            // A bridge (Mosquitto's bridge flag) must not get back what it published, or two brokers bridged both
            // ways would pass a message round for ever; and it forwards retained messages as retained.
            subscriptions = [.. subscriptions.Select(s => s with { NoLocal = true, RetainAsPublished = true })];
        }

        var outcome = _broker.Subscribe(session, AsSubscriber, subscriptions, subscriptionId);
        var refused = outcome.Codes.FindIndex(code => (byte)code >= 0x80);
        if (refused >= 0 && MayLog("refused SUBSCRIBE"))
        {
            Logger.LogInformation("Client {ClientId} ({Remote}): subscription to '{Filter}' refused with {Reason}", LogName, Info.RemoteEndPoint,
                MqttText.Quote(subscriptions[refused].Filter), Version == ProtocolVersion.V500 ? outcome.Codes[refused] : "0x80 (MQTT 3.1.1 gives no reason)");
        }

        EnqueuePacket(new SubAckPacket { PacketId = subscribe.PacketId, ReasonCodes = outcome.Codes, Properties = ReasonStringProperties(outcome.ReasonString) });
        _broker.DeliverRetained(session, outcome);
        return true;
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
                // Only while this connection holds the session: one taken over (its DISCONNECT handled late) would
                // otherwise set the newer holder's expiry, or delete its stored session with an expiry of 0.
                if (session.Epoch == SessionEpoch)
                {
                    session.ExpiryInterval = _broker.Options.MaxSessionExpirySeconds is { } cap ? Math.Min(expiry, cap) : expiry;
                    session.Journal.ExpiryChanged();
                }
            }
        }

        // 0x04 asks for the will to be published anyway; any other DISCONNECT discards it [MQTT-3.14.4-3].
        _disconnectedNormally = disconnect.ReasonCode != ReasonCode.DisconnectWithWillMessage;
        if (Logger.IsEnabled(LogLevel.Debug))
            Logger.LogDebug("Client {ClientId} disconnected ({Reason})", LogName, disconnect.ReasonCode);
        return false;
    }
}
