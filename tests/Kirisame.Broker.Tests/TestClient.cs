using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;

namespace Kirisame.Broker.Tests;

/// A minimal MQTT client over an in-memory duplex pipe, built on our own codec, for driving the broker
/// packet by packet. Receive waits for a condition with a deadline; nothing sleeps.
public sealed class TestClient : IAsyncDisposable
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);
    private readonly Pipe _toServer = new();
    private readonly Pipe _fromServer = new();
    private readonly MqttFrameReader _frames = new(int.MaxValue);
    private ushort _nextPacketId;

    public TestClient(MqttBroker broker, ProtocolVersion version, string name = "test", ConnectionInfo? info = null,
        CancellationToken transportClosed = default)
    {
        Version = version;
        ServerTask = broker.RunConnectionAsync(new DuplexPipe(_toServer.Reader, _fromServer.Writer),
            info ?? new ConnectionInfo(name + "-" + Guid.NewGuid().ToString("N")[..6], null, null), transportClosed);
    }

    public ProtocolVersion Version { get; }

    /// A 3.1.1 persistent session (Clean Session 0) subscribed to <paramref name="filter"/> at QoS 1 whose client
    /// has gone: what is published to it from now on waits in its queue.
    public static async Task LeaveOfflineSessionAsync(MqttBroker broker, string clientId, string filter)
    {
        await using var client = new TestClient(broker, ProtocolVersion.V311);
        await client.ConnectAsync(clientId, cleanStart: false);
        await client.SubscribeAsync(filter, QualityOfService.AtLeastOnce);
        await client.DisconnectAsync();
    }

    /// Completes when the broker is finished with this connection.
    public Task ServerTask { get; }

    public ushort NextPacketId() => ++_nextPacketId == 0 ? ++_nextPacketId : _nextPacketId;

    public async Task SendAsync(MqttPacket packet)
    {
        await _toServer.Writer.WriteAsync(MqttEncoder.Encode(packet, Version));
    }

    public async Task SendRawAsync(byte[] bytes) => await _toServer.Writer.WriteAsync(bytes);

    /// Closes the client's side of the socket without DISCONNECT (as a network failure would).
    public async Task DropAsync() => await _toServer.Writer.CompleteAsync();

    public async Task<ConnAckPacket> ConnectAsync(string clientId, bool cleanStart = true, ushort keepAlive = 0,
        WillMessage? will = null, MqttProperties? properties = null, string? userName = null, byte[]? password = null)
    {
        await SendAsync(new ConnectPacket
        {
            ProtocolVersion = Version,
            ClientId = clientId,
            CleanStart = cleanStart,
            KeepAlive = keepAlive,
            Will = will,
            Properties = properties,
            UserName = userName,
            Password = password,
        });
        return await ExpectAsync<ConnAckPacket>();
    }

    public async Task<SubAckPacket> SubscribeAsync(string filter, QualityOfService qos = QualityOfService.AtMostOnce, MqttProperties? properties = null,
        bool noLocal = false, bool retainAsPublished = false, RetainHandling retainHandling = RetainHandling.SendOnSubscribe)
    {
        var id = NextPacketId();
        await SendAsync(new SubscribePacket
        {
            PacketId = id,
            Subscriptions = [new TopicSubscription(filter, qos, noLocal, retainAsPublished, retainHandling)],
            Properties = properties,
        });
        var ack = await ExpectAsync<SubAckPacket>();
        Assert.Equal(id, ack.PacketId);
        return ack;
    }

    public async Task<UnsubAckPacket> UnsubscribeAsync(params string[] filters)
    {
        var id = NextPacketId();
        await SendAsync(new UnsubscribePacket { PacketId = id, Filters = [.. filters] });
        var ack = await ExpectAsync<UnsubAckPacket>();
        Assert.Equal(id, ack.PacketId);
        return ack;
    }

    public async Task PublishAsync(string topic, string payload, QualityOfService qos = QualityOfService.AtMostOnce, bool retain = false,
        ushort packetId = 0, PublishProperties properties = default, bool dup = false)
    {
        if (qos != QualityOfService.AtMostOnce && packetId == 0)
            packetId = NextPacketId();
        await SendAsync(new PublishMessagePacket(new PublishPacket
        {
            Topic = Encoding.UTF8.GetBytes(topic),
            Payload = Encoding.UTF8.GetBytes(payload),
            QoS = qos,
            Retain = retain,
            PacketId = packetId,
            Properties = properties,
            Dup = dup,
        }));
    }

    /// Publishes and waits until the broker has routed the message: for QoS 1 the PUBACK, for QoS 2 the whole
    /// PUBREC/PUBREL/PUBCOMP exchange, for QoS 0 a PINGREQ barrier. Returns the PUBACK/PUBREC reason code.
    public async Task<ReasonCode> PublishAndSettleAsync(string topic, string payload, QualityOfService qos = QualityOfService.AtMostOnce, bool retain = false)
    {
        await PublishAsync(topic, payload, qos, retain);
        if (qos == QualityOfService.AtMostOnce)
        {
            await ExpectNothingAsync();
            return ReasonCode.Success;
        }

        var ack = await ExpectAsync<PublishAckPacket>();
        Assert.Equal(qos == QualityOfService.AtLeastOnce ? PacketType.PubAck : PacketType.PubRec, ack.Type);
        if (qos == QualityOfService.ExactlyOnce && !ReasonCodes.IsError(ack.ReasonCode))
        {
            await SendAsync(new PublishAckPacket(PacketType.PubRel, ack.PacketId));
            Assert.Equal(PacketType.PubComp, (await ExpectAsync<PublishAckPacket>()).Type);
        }

        return ack.ReasonCode;
    }

    /// Receives the next packet, or null if the broker closed the connection first.
    public async Task<MqttPacket?> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        var reader = _fromServer.Reader;
        while (true)
        {
            ReadResult result;
            try
            {
                result = await reader.ReadAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException("No packet from the broker in time.");
            }

            var buffer = result.Buffer;
            var status = _frames.TryRead(buffer, out var raw, out var consumed, out var error);
            if (status == FrameStatus.Complete)
            {
                var decodeError = MqttDecoder.Decode(raw, Version, out var packet);
                if (decodeError != DecodeError.None)
                    Assert.Fail($"Broker sent an undecodable {raw.Type} ({decodeError}): {Convert.ToHexString(raw.Body.Span)}");
                if (packet is PublishMessagePacket p)
                    packet = new PublishMessagePacket(p.Publish.Detach());
                reader.AdvanceTo(consumed);
                return packet;
            }

            Assert.NotEqual(FrameStatus.Invalid, status);
            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
                return null;
        }
    }

    public async Task<T> ExpectAsync<T>(TimeSpan? timeout = null) where T : MqttPacket
    {
        var packet = await ReceiveAsync(timeout);
        Assert.NotNull(packet);
        return Assert.IsType<T>(packet);
    }

    public async Task<PublishPacket> ExpectPublishAsync(TimeSpan? timeout = null)
        => (await ExpectAsync<PublishMessagePacket>(timeout)).Publish;

    /// Asserts that nothing arrives within a short window (used only to show absence, after a barrier).
    public async Task ExpectNothingAsync()
    {
        // A PINGREQ round trip is a barrier: anything the broker queued before the PINGRESP would come first.
        await SendRawAsync([0xC0, 0x00]);
        var packet = await ReceiveAsync();
        Assert.IsType<PingRespPacket>(packet);
    }

    /// Every PUBLISH the broker queued before a PINGREQ barrier, in order (acknowledging none of them).
    public async Task<List<PublishPacket>> CollectPublishesAsync()
    {
        await SendRawAsync([0xC0, 0x00]);
        var received = new List<PublishPacket>();
        while (true)
        {
            var packet = await ReceiveAsync();
            if (packet is PingRespPacket)
                return received;
            received.Add(Assert.IsType<PublishMessagePacket>(packet).Publish);
        }
    }

    /// Waits until the broker has closed the connection (its output completes) and has finished with it
    /// (session detached, will handled), so that what follows sees the connection gone.
    public async Task ExpectClosedAsync(TimeSpan? timeout = null)
    {
        while (true)
        {
            var packet = await ReceiveAsync(timeout);
            if (packet is null)
                break;
        }

        await ServerTask.WaitAsync(timeout ?? DefaultTimeout);
    }

    public async Task DisconnectAsync(DisconnectPacket? packet = null)
    {
        await SendAsync(packet ?? new DisconnectPacket());
        await ExpectClosedAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _toServer.Writer.CompleteAsync();
        await Task.WhenAny(ServerTask, Task.Delay(DefaultTimeout));
        _frames.Dispose();
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}

public static class Text
{
    public static string Of(ReadOnlyMemory<byte> bytes) => Encoding.UTF8.GetString(bytes.Span);
}
