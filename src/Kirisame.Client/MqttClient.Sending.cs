using System.Buffers;
using System.Text;
using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Topics;

namespace Kirisame.Client;

public sealed partial class MqttClient
{
    /// Publishes. QoS 0 completes once written; QoS 1 with the PUBACK's reason code, QoS 2 with the PUBCOMP's (or
    /// a failing PUBREC's). Publishes go out in call order, at most <see cref="MqttClientOptions.MaxInflight"/>
    /// QoS 1/2 ones unacknowledged. A QoS above the server's Maximum QoS is lowered to it, and RETAIN is cleared
    /// when the server has none (5.0 CONNACK) [MQTT-3.2.2-11], [MQTT-3.2.2-14]. A packet over the server's Maximum
    /// Packet Size is not sent: it completes with Packet too large (0x95) [MQTT-3.1.2-24].
    /// Cancelling stops the wait, not the publish. Throws <see cref="MqttClientException"/> when the connection
    /// ends first: the server may or may not have the message.
    public async Task<ReasonCode> PublishAsync(string topic, ReadOnlyMemory<byte> payload, QualityOfService qos = QualityOfService.AtMostOnce,
        bool retain = false, PublishProperties properties = default, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(topic);
        if (TopicRules.ValidateTopicName(topic) != DecodeError.None)
            throw new ArgumentException($"'{topic}' is not a valid topic name.", nameof(topic));
        if (qos > QualityOfService.ExactlyOnce)
            throw new ArgumentOutOfRangeException(nameof(qos));
        ThrowIfDisconnected();
        if (qos > _serverMaximumQoS)
            qos = _serverMaximumQoS;
        var publish = new PublishPacket
        {
            Topic = Encoding.UTF8.GetBytes(topic),
            Payload = payload,
            QoS = qos,
            Retain = retain && _serverRetainAvailable,
            Properties = properties with { TopicAlias = 0, SubscriptionIdentifiers = default },
        };
        var completion = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_publishes.Writer.TryWrite(new Outgoing(null, completion, publish)))
            ThrowIfDisconnected();
        Wake();
        return (ReasonCode)await completion.Task.WaitAsync(cancellationToken);
    }

    /// Something for the writer: encoded bytes (acknowledgements, SUBSCRIBE, DISCONNECT…) or a PUBLISH to number.
    private sealed record Outgoing(byte[]? Bytes, TaskCompletionSource<object>? Completion, PublishPacket Publish = default);

    private void EnqueueControl(byte[] bytes)
    {
        _control.Enqueue(new Outgoing(bytes, null));
        Wake();
    }

    private void EnqueueAck(PacketType type, ushort packetId, ReasonCode reason)
    {
        var bytes = new byte[5];
        var length = MqttEncoder.WritePublishAck(bytes, type, packetId, reason, ProtocolVersion);
        EnqueueControl(length == bytes.Length ? bytes : bytes[..length]);
    }

    private void Wake()
    {
        if (Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            try
            {
                _wake.Release();
            }
            catch (ObjectDisposedException)
            {
                // Disposed: the writer is gone.
            }
        }
    }

    /// The one writer: acknowledgements and other control packets first (they never wait for the window), then
    /// publishes in order while the window has room; one flush per batch.
    private async Task WriteLoopAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                Volatile.Write(ref _wakePending, 0);
                List<TaskCompletionSource<object>>? written = null;
                var any = false;
                while (_control.TryDequeue(out var control))
                {
                    _output.Write(control.Bytes);
                    any = true;
                }

                while (Volatile.Read(ref _inflight) < _window && _publishes.Reader.TryRead(out var outgoing))
                {
                    if (outgoing.Bytes is { } bytes)
                    {
                        _output.Write(bytes); // DISCONNECT, in order after the publishes before it
                        (written ??= []).Add(outgoing.Completion!);
                    }
                    else if (WritePublish(outgoing) is { } done)
                    {
                        (written ??= []).Add(done);
                    }

                    any = true;
                }

                if (!any)
                {
                    await _wake.WaitAsync(_stop.Token);
                    continue;
                }

                var flushed = await _output.FlushAsync(_stop.Token);
                _lastSent = Environment.TickCount64;
                if (written is not null)
                {
                    foreach (var completion in written)
                        completion.TrySetResult(ReasonCode.Success);
                }

                if (flushed.IsCompleted)
                    break;
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or System.Net.WebSockets.WebSocketException or InvalidOperationException)
        {
            Close(new MqttDisconnectInfo(null, $"writing to the server failed: {ex.Message}", ByClient: false, ex));
        }
    }

    /// Writes one PUBLISH; returns the completion to set once flushed (QoS 0), or null when the server's
    /// acknowledgement completes it (QoS 1/2) or it was refused here.
    private TaskCompletionSource<object>? WritePublish(Outgoing outgoing)
    {
        var publish = outgoing.Publish;
        var completion = outgoing.Completion!;
        if (MqttEncoder.GetPublishSize(publish with { PacketId = 1 }, ProtocolVersion) > _serverMaximumPacketSize)
        {
            completion.TrySetResult(ReasonCode.PacketTooLarge);
            return null;
        }

        if (publish.QoS != QualityOfService.AtMostOnce)
        {
            var flow = new PendingFlow(publish.QoS == QualityOfService.AtLeastOnce ? PacketType.PubAck : PacketType.PubRec, completion) { InWindow = true };
            if (!_ids.TryAdd(flow, out var packetId))
            {
                completion.TrySetException(new MqttClientException("all 65,535 packet identifiers are in use"));
                return null;
            }

            Interlocked.Increment(ref _inflight);
            publish = publish with { PacketId = packetId };
            MqttEncoder.WritePublish(_output, publish, ProtocolVersion);
            return null;
        }

        MqttEncoder.WritePublish(_output, publish, ProtocolVersion);
        return completion;
    }

    /// A QoS 1/2 flow is done: its identifier is free and the window has room again.
    private void CompleteFlow(ushort packetId, ReasonCode reason)
    {
        if (_ids.Remove(packetId) is not { } flow)
            return;
        if (flow.InWindow)
        {
            Interlocked.Decrement(ref _inflight);
            Wake();
        }

        flow.Completion.TrySetResult(reason);
    }
}
