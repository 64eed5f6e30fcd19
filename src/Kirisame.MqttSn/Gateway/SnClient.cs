using System.Net;
using System.Net.Sockets;
using Kirisame.Broker.Clients;
using Kirisame.MqttSn.Codec;
using Kirisame.MqttSn.Diagnostics;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Primitives;
using Microsoft.Extensions.Logging;

namespace Kirisame.MqttSn.Gateway;

/// One MQTT-SN client: its state machine (§6.14), its topic ids, and the broker session it is — an ordinary
/// in-process client, so ACLs, limits, metrics and $SYS see it like any other. Datagrams from it are handled on
/// the gateway's receive loop (<see cref="Handle"/>), which never waits: work that may wait (connecting,
/// subscribing, a publish under back-pressure) continues on its own task. Deliveries to it run in
/// <see cref="PumpAsync"/> (SnClient.Delivery.cs).
#pragma warning disable CA1001 // its CancellationTokenSources have no timers and its SemaphoreSlim no wait handle: nothing to free
internal sealed partial class SnClient
#pragma warning restore CA1001
{
    private readonly MqttSnGateway _gateway;
    private readonly Lock _lock = new();
    private readonly TopicRegistry _topics;
    private readonly CancellationTokenSource _closed = new();

    /// QoS 2 messages from the client published to the broker and not yet released (PUBREL): a duplicate PUBLISH
    /// with one of these ids is answered PUBREC again without publishing twice (§6.7).
    private readonly HashSet<ushort> _qos2Received = [];

    private SnClientState _state = SnClientState.Connecting;
    private InProcessClient? _session;
    private WillMessage? _will;
    private bool _cleanSession;
    private long _lastHeard;
    private long _sleepStarted;
    private ushort _keepAliveSeconds;
    private ushort _sleepSeconds;

    public SnClient(MqttSnGateway gateway, SocketAddress address, string clientId)
    {
        _gateway = gateway;
        Address = address;
        EndPoint = SnAddress.ToEndPoint(address);
        ClientId = clientId;
        LogName = MqttText.Quote(clientId);
        _topics = new TopicRegistry(gateway.Options.MaxTopicsPerClient);
        _lastHeard = gateway.Time.GetTimestamp();
    }

    public SocketAddress Address { get; }

    public IPEndPoint EndPoint { get; }

    public string ClientId { get; }

    private string LogName { get; }

    public SnClientState State
    {
        get
        {
            lock (_lock)
                return _state;
        }
    }

    private ILogger Log => _gateway.Logger;

    /// CONNECT (§6.3): with the Will flag the will flow comes first, else the broker session at once.
    public void Start(SnConnect connect)
    {
        _cleanSession = connect.Flags.CleanSession;
        _keepAliveSeconds = connect.Duration;
        if (connect.Flags.Will)
            SendSmall(SnMessageType.WillTopicReq);
        else
            _ = ConnectAsync();
    }

    /// A datagram from this client (the header already read). Runs on the receive loop: never waits.
    public void Handle(SnMessageType type, ReadOnlyMemory<byte> body)
    {
        SnClientState state;
        lock (_lock)
        {
            state = _state;
            _lastHeard = _gateway.Time.GetTimestamp();
        }

        if (state == SnClientState.Closed)
            return;
        if (state == SnClientState.Connecting)
        {
            HandleWillFlow(type, body.Span);
            return;
        }

        var span = body.Span;
        var ok = type switch
        {
            SnMessageType.Publish => HandlePublish(body),
            SnMessageType.PubRel => HandlePubRel(span),
            SnMessageType.PubAck or SnMessageType.RegAck => SnTopicAck.TryParse(span, out var ack) && Acknowledged(type, ack.MsgId, ack.ReturnCode),
            SnMessageType.PubRec or SnMessageType.PubComp => SnMsgIdOnly.TryParse(span, out var id) && Acknowledged(type, id, SnReturnCode.Accepted),
            SnMessageType.Register => HandleRegister(span),
            SnMessageType.Subscribe or SnMessageType.Unsubscribe => HandleSubscribe(type, span),
            SnMessageType.PingReq => HandlePing(span),
            SnMessageType.Disconnect => HandleDisconnect(span),
            SnMessageType.WillTopicUpd => HandleWillTopicUpdate(span),
            SnMessageType.WillMsgUpd => HandleWillMessageUpdate(span),
            _ => Unexpected(type),
        };
        if (!ok)
            _gateway.Malformed(type, EndPoint);
    }

    private bool Unexpected(SnMessageType type)
    {
        _gateway.Metrics.Dropped(SnDropReason.Unexpected);
        _gateway.Throttled("unexpected", EndPoint, $"{type} from connected client {LogName}");
        return true;
    }

    /// WILLTOPIC then WILLMSG (§6.3); an empty WILLTOPIC means no will after all.
    private void HandleWillFlow(SnMessageType type, ReadOnlySpan<byte> body)
    {
        if (type == SnMessageType.WillTopic && _will is null)
        {
            if (!SnWillTopic.TryParse(body, out var topic))
            {
                _gateway.Malformed(type, EndPoint);
                return;
            }
            if (topic.IsEmpty)
            {
                _ = ConnectAsync();
                return;
            }
            _will = new WillMessage { Topic = topic.Topic, QoS = (QualityOfService)Math.Max(0, topic.Flags.QoS), Retain = topic.Flags.Retain };
            SendSmall(SnMessageType.WillMsgReq);
        }
        else if (type == SnMessageType.WillMsg && _will is { } will)
        {
            will.Payload = body.ToArray();
            _ = ConnectAsync();
        }
        else
        {
            Unexpected(type);
        }
    }

    private async Task ConnectAsync()
    {
        var options = new InProcessClientOptions
        {
            ClientId = ClientId,
            UserName = _gateway.Options.UserName,
            Listener = _gateway.Options.Listener,
            CleanStart = _cleanSession,
            SessionExpiryInterval = _cleanSession ? 0 : _gateway.Options.PersistentSessionExpirySeconds,
            Will = _will,
            AcknowledgeOnRead = false, // acknowledged when the MQTT-SN client has acknowledged (SnClient.Delivery)
        };
        if (_gateway.Core is not { } core)
        {
            // The tenant was removed (or is not there yet): "try later" is what MQTT-SN 1.2 has for it.
            Refuse(SnReturnCode.Congestion, $"tenant '{_gateway.Options.Tenant}' does not exist");
            return;
        }

        InProcessClient session;
        try
        {
            session = await InProcessClient.ConnectAsync(core, options);
        }
        catch (InProcessClientException ex)
        {
            Refuse(SnReturnCodes.FromBroker(ex.Reason), $"the broker refused it: {ex.Message} ({ex.Reason})");
            return;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Stopping, or a fault: the client is told to come back later, the operator why.
            Refuse(SnReturnCode.Congestion, $"the broker could not take it: {ex.GetType().Name}: {ex.Message}");
            return;
        }

        lock (_lock)
        {
            if (_state != SnClientState.Connecting)
            {
                // Replaced or timed out while the broker was connecting it.
                _ = session.DisposeAsync().AsTask();
                return;
            }
            _session = session;
            _state = SnClientState.Active;
        }

        _gateway.Connected(this);
        SendReturnCode(SnMessageType.ConnAck, SnReturnCode.Accepted);
        LogConnected(Log, LogName, EndPoint, _keepAliveSeconds, _will is not null);
        _ = PumpAsync(session);
    }

    /// CONNACK with a refusal after the client was admitted to the table; its state goes.
    private void Refuse(SnReturnCode code, string why)
    {
        _gateway.Metrics.Refused();
        LogRefused(Log, LogName, EndPoint, code, why);
        SendReturnCode(SnMessageType.ConnAck, code);
        Close(publishWill: false);
    }

    private bool HandlePing(ReadOnlySpan<byte> body)
    {
        if (!SnPingReq.TryParse(body, out _))
            return false;
        lock (_lock)
        {
            if (_state == SnClientState.Asleep)
            {
                // Awake (§6.14): the pump sends what waited, then PINGRESP.
                _state = SnClientState.Awake;
                _wake.TrySetResult();
                return true;
            }
            if (_state == SnClientState.Awake)
                return true; // a repeated PINGREQ while the buffered messages go out: PINGRESP comes after them
        }

        SendSmall(SnMessageType.PingResp);
        return true;
    }

    private bool HandleDisconnect(ReadOnlySpan<byte> body)
    {
        if (!SnDisconnect.TryParse(body, out var disconnect))
            return false;
        if (disconnect.SleepDuration is { } seconds and > 0)
        {
            // Sleep (§6.14): the session stays; the pump stops sending until the client wakes.
            lock (_lock)
            {
                _state = SnClientState.Asleep;
                _sleepSeconds = seconds;
                _sleepStarted = _gateway.Time.GetTimestamp();
                if (_wake.Task.IsCompleted)
                    _wake = NewSignal();
                _sleeping.Cancel();
            }
            SendSmall(SnMessageType.Disconnect);
            LogAsleep(Log, LogName, seconds);
            return true;
        }

        SendSmall(SnMessageType.Disconnect);
        Close(publishWill: false);
        return true;
    }

    /// Called by the gateway's sweep about once a second: a client not heard from for 1.5 × its keep-alive, or
    /// 1.5 × its sleep duration, is lost and its will published (§6.14: "Lost"); a CONNECT whose will flow stalled
    /// is forgotten after Tretry × (Nretry + 1).
    public void Sweep(long now)
    {
        string? lost = null;
        lock (_lock)
        {
            var heard = _gateway.Time.GetElapsedTime(_lastHeard, now);
            switch (_state)
            {
                case SnClientState.Connecting when heard > _gateway.Options.RetryInterval * (_gateway.Options.RetryCount + 1):
                    lost = "its will flow stalled";
                    break;
                case SnClientState.Active when _keepAliveSeconds > 0 && heard > TimeSpan.FromSeconds(_keepAliveSeconds * 1.5):
                    lost = $"nothing heard for 1.5 × its keep-alive ({_keepAliveSeconds} s)";
                    break;
                case SnClientState.Asleep when _gateway.Time.GetElapsedTime(_sleepStarted, now) > TimeSpan.FromSeconds(_sleepSeconds * 1.5)
                                               && heard > TimeSpan.FromSeconds(_sleepSeconds * 1.5):
                    lost = $"it did not wake within 1.5 × its sleep duration ({_sleepSeconds} s)";
                    break;
            }
        }

        if (lost is not null)
            Lose(lost);
    }

    /// The client is gone without DISCONNECT: its will is published.
    private void Lose(string why)
    {
        if (State == SnClientState.Closed)
            return;
        _gateway.Metrics.Lost();
        LogLost(Log, LogName, EndPoint, why);
        Close(publishWill: true);
    }

    /// Ends the client: out of the gateway's table, its broker session released (kept when it asked for a
    /// persistent session), its pump stopped.
    public void Close(bool publishWill)
    {
        InProcessClient? session;
        bool wasConnecting;
        lock (_lock)
        {
            if (_state == SnClientState.Closed)
                return;
            wasConnecting = _state == SnClientState.Connecting;
            _state = SnClientState.Closed;
            session = _session;
            _wake.TrySetResult();
        }

        _closed.Cancel();
        _sleeping.Cancel();
        _gateway.Removed(this, wasConnecting);
        if (session is not null)
            _ = session.DisconnectAsync(publishWill);
    }

    private void SendSmall(SnMessageType type)
    {
        Span<byte> message = stackalloc byte[SnWriter.SmallMessage];
        _gateway.Send(message[..SnWriter.Empty(message, type)], Address);
    }

    private void SendReturnCode(SnMessageType type, SnReturnCode code)
    {
        Span<byte> message = stackalloc byte[SnWriter.SmallMessage];
        _gateway.Send(message[..SnWriter.ReturnCode(message, type, code)], Address);
    }

    private void SendMsgId(SnMessageType type, ushort msgId)
    {
        Span<byte> message = stackalloc byte[SnWriter.SmallMessage];
        _gateway.Send(message[..SnWriter.MsgId(message, type, msgId)], Address);
    }

    private void SendTopicAck(SnMessageType type, ushort topicId, ushort msgId, SnReturnCode code)
    {
        Span<byte> message = stackalloc byte[SnWriter.SmallMessage];
        _gateway.Send(message[..SnWriter.TopicAck(message, type, topicId, msgId, code)], Address);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT-SN client {ClientId} connected from {EndPoint} (keep-alive {KeepAlive} s, will: {HasWill})")]
    private static partial void LogConnected(ILogger logger, string clientId, IPEndPoint endPoint, ushort keepAlive, bool hasWill);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT-SN CONNECT from {ClientId} at {EndPoint} refused ({Code}): {Why}")]
    private static partial void LogRefused(ILogger logger, string clientId, IPEndPoint endPoint, SnReturnCode code, string why);

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT-SN client {ClientId} sleeps for {Seconds} s; its messages wait in its session")]
    private static partial void LogAsleep(ILogger logger, string clientId, ushort seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT-SN client {ClientId} at {EndPoint} lost: {Why}; its will (if any) is published")]
    private static partial void LogLost(ILogger logger, string clientId, IPEndPoint endPoint, string why);
}
