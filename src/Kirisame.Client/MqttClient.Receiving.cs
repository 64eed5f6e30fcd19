using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;

namespace Kirisame.Client;

public sealed partial class MqttClient
{
    private long _lastSent = Environment.TickCount64;
    private long _lastReceived = Environment.TickCount64;

    /// True while the read loop waits for room in <see cref="Messages"/>: the server is not silent then, we are.
    private volatile bool _readerBlocked;

    private async Task ReadLoopAsync()
    {
        MqttDisconnectInfo? ending = null;
        try
        {
            while (ending is null)
            {
                var result = await _input.ReadAsync(_stop.Token);
                var buffer = result.Buffer;
                while (ending is null)
                {
                    var status = _frames.TryRead(buffer, out var raw, out var consumed, out var error);
                    if (status == FrameStatus.Invalid)
                    {
                        ending = Failed(error == DecodeError.PacketTooLarge ? ReasonCode.PacketTooLarge : ReasonCode.MalformedPacket,
                            $"the server sent a malformed packet ({error})");
                        break;
                    }

                    if (status == FrameStatus.NeedMoreData)
                        break;
                    _lastReceived = Environment.TickCount64;
                    ending = await HandleAsync(raw);
                    buffer = buffer.Slice(consumed);
                }

                _input.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted && ending is null)
                    ending = new MqttDisconnectInfo(null, "the server closed the connection", ByClient: false);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or System.Net.WebSockets.WebSocketException or InvalidOperationException)
        {
            ending = new MqttDisconnectInfo(null, $"reading from the server failed: {ex.Message}", ByClient: false, ex);
        }

        if (ending is not null)
        {
            // On a protocol error the server is told why (5.0) before the connection closes [MQTT-4.13.1-1].
            if (ending.Reason is { } reason && !ending.ByClient && ProtocolVersion == ProtocolVersion.V500 && reason != ReasonCode.KeepAliveTimeout
                && ending.Description.StartsWith("the server sent", StringComparison.Ordinal))
            {
                await TrySendDisconnectAsync(reason);
            }

            Close(ending);
        }
    }

    private static MqttDisconnectInfo Failed(ReasonCode reason, string description) => new(reason, description, ByClient: false);

    /// Handles one packet; returns why the connection must end, or null.
    private async ValueTask<MqttDisconnectInfo?> HandleAsync(RawPacket raw)
    {
        switch (raw.Type)
        {
            case PacketType.Publish:
                return await ReceivePublishAsync(raw);
            case PacketType.PubAck:
            case PacketType.PubRec:
            case PacketType.PubRel:
            case PacketType.PubComp:
                var error = MqttDecoder.DecodePublishAck(raw, ProtocolVersion, out var packetId, out var reason);
                if (error != DecodeError.None)
                    return Failed(ReasonCode.MalformedPacket, $"the server sent a malformed {raw.Type} ({error})");
                PublishAcknowledged(raw.Type, packetId, reason);
                return null;
            case PacketType.SubAck:
            case PacketType.UnsubAck:
                error = MqttDecoder.Decode(raw, ProtocolVersion, out var packet);
                if (error != DecodeError.None)
                    return Failed(ReasonCode.MalformedPacket, $"the server sent a malformed {raw.Type} ({error})");
                var id = packet is SubAckPacket subAck ? subAck.PacketId : ((UnsubAckPacket)packet!).PacketId;
                if (_ids.Get(id) is { } flow && flow.Awaiting == raw.Type && _ids.Remove(id) is not null)
                    flow.Completion.TrySetResult(packet!);
                return null;
            case PacketType.PingResp:
                return null;
            case PacketType.Disconnect:
                MqttDecoder.Decode(raw, ProtocolVersion, out var disconnect);
                var d = disconnect as DisconnectPacket;
                var why = d?.Properties?.ReasonString is { } text ? $"the server disconnected: {text}" : "the server disconnected";
                return new MqttDisconnectInfo(d?.ReasonCode ?? ReasonCode.NormalDisconnection, why, ByClient: false);
            default:
                return Failed(ReasonCode.ProtocolError, $"the server sent {raw.Type}, which a client does not expect");
        }
    }

    private async ValueTask<MqttDisconnectInfo?> ReceivePublishAsync(RawPacket raw)
    {
        var error = MqttDecoder.DecodePublish(raw, ProtocolVersion, out var publish);
        if (error != DecodeError.None)
            return Failed(DecodeErrors.ToReasonCode(error), $"the server sent a malformed PUBLISH ({error})");
        if (publish.Properties.TopicAlias != 0)
            return Failed(ReasonCode.TopicAliasInvalid, "the server sent a Topic Alias, which this client did not allow [MQTT-3.3.2-9]");
        var qos = publish.QoS;
        if (qos == QualityOfService.ExactlyOnce)
        {
            lock (_inboundQoS2)
            {
                if (_inboundQoS2.TryGetValue(publish.PacketId, out var acknowledged))
                {
                    // Sent again before our PUBREC arrived: not delivered twice; answered again if we had answered.
                    if (acknowledged || _options.AutoAcknowledge)
                        EnqueueAck(PacketType.PubRec, publish.PacketId, ReasonCode.Success);
                    return null;
                }

                _inboundQoS2[publish.PacketId] = false;
            }
        }

        var message = new MqttMessage(publish.TopicString, publish.Payload.ToArray(), qos, publish.Retain, publish.Dup,
            publish.Properties.Detach(), publish.PacketId);
        if (!_received.Writer.TryWrite(message))
        {
            _readerBlocked = true;
            try
            {
                await _received.Writer.WriteAsync(message, _stop.Token);
            }
            finally
            {
                _readerBlocked = false;
                _lastReceived = Environment.TickCount64;
            }
        }

        if (_options.AutoAcknowledge && qos != QualityOfService.AtMostOnce)
            SendAck(qos, publish.PacketId);
        return null;
    }

    private void PublishAcknowledged(PacketType type, ushort packetId, ReasonCode reason)
    {
        switch (type)
        {
            case PacketType.PubAck:
            case PacketType.PubComp:
                if (_ids.Get(packetId) is { } flow && flow.Awaiting == type)
                    CompleteFlow(packetId, reason);
                break;
            case PacketType.PubRec:
                if (_ids.Get(packetId) is { Awaiting: PacketType.PubRec } waiting)
                {
                    if (ReasonCodes.IsError(reason))
                    {
                        CompleteFlow(packetId, reason); // refused: no PUBREL follows [MQTT-4.3.3-4] (5.0)
                        break;
                    }

                    waiting.Awaiting = PacketType.PubComp;
                    EnqueueAck(PacketType.PubRel, packetId, ReasonCode.Success); // [MQTT-4.3.3-3]
                }
                else
                {
                    EnqueueAck(PacketType.PubRel, packetId, ReasonCode.PacketIdentifierNotFound);
                }

                break;
            case PacketType.PubRel:
                bool known;
                lock (_inboundQoS2)
                    known = _inboundQoS2.Remove(packetId);
                EnqueueAck(PacketType.PubComp, packetId, known ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound);
                break;
        }
    }

    private async Task TrySendDisconnectAsync(ReasonCode reason)
    {
        try
        {
            var bytes = MqttEncoder.Encode(new DisconnectPacket { ReasonCode = reason }, ProtocolVersion);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await _stream.WriteAsync(bytes, timeout.Token);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or System.Net.WebSockets.WebSocketException)
        {
            // Best effort: the connection is closing either way.
        }
    }

    /// PINGREQ when nothing was sent or received for a keep-alive period; the connection is given up when a
    /// PINGREQ has had no answer (nor any other packet) for a further period. A server closes a client that stays
    /// silent for one and a half periods [MQTT-3.1.2-24] (3.1.1), [MQTT-3.1.2-22] (5.0).
    private async Task KeepAliveLoopAsync()
    {
        var period = (long)KeepAlive.TotalMilliseconds;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(Math.Max(100, period / 4)));
        long pingSentAt = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                var now = Environment.TickCount64;
                var lastReceived = Volatile.Read(ref _lastReceived);
                if (pingSentAt != 0 && lastReceived >= pingSentAt)
                    pingSentAt = 0; // answered
                if (pingSentAt != 0)
                {
                    if (now - pingSentAt > period && !_readerBlocked)
                    {
                        Close(new MqttDisconnectInfo(ReasonCode.KeepAliveTimeout,
                            $"no answer from the server for {KeepAlive.TotalSeconds:0.#} s after PINGREQ", ByClient: false));
                        return;
                    }

                    continue;
                }

                if (now - Volatile.Read(ref _lastSent) >= period || now - lastReceived >= period)
                {
                    pingSentAt = now;
                    _control.Enqueue(new Outgoing(MqttEncoder.PingReq.ToArray(), null));
                    Wake();
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }
}
