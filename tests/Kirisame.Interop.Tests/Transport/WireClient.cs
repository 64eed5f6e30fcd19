using System.Buffers;
using System.Net.Sockets;
using System.Text;
using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;

namespace Kirisame.Interop.Tests.Transport;

/// An MQTT 3.1.1 client on a bare socket, for transport tests: the test decides how the bytes are cut into
/// writes, when (and how much) it reads, and how the socket ends — none of which a client library lets it do.
internal sealed class WireClient : IDisposable
{
    private const ProtocolVersion Version = ProtocolVersion.V311;

    private readonly MqttFrameReader _frames = new(int.MaxValue);
    private byte[] _buffer = new byte[16 * 1024];
    private int _filled;

    private WireClient(Socket socket) => Socket = socket;

    public Socket Socket { get; }

    /// Bytes read from the socket so far.
    public long BytesRead { get; private set; }

    /// At most this many bytes per receive call, to read slowly; 0 for no limit.
    public int ReadSize { get; set; }

    /// A pause after each receive call, to read slowly.
    public TimeSpan ReadPause { get; set; }

    public static async Task<WireClient> OpenAsync(int port, CancellationToken cancellationToken, int receiveBufferSize = 0)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBufferSize > 0)
            socket.ReceiveBufferSize = receiveBufferSize; // before connecting, so the window is small from the start
        try
        {
            await socket.ConnectAsync("127.0.0.1", port, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new WireClient(socket);
    }

    /// Opens a connection and completes CONNECT/CONNACK.
    public static async Task<WireClient> ConnectAsync(int port, string clientId, CancellationToken cancellationToken, int receiveBufferSize = 0)
    {
        var client = await OpenAsync(port, cancellationToken, receiveBufferSize);
        try
        {
            await client.SendAsync(Connect(clientId), cancellationToken);
            var connAck = Assert.IsType<ConnAckPacket>((await client.ReadAsync(cancellationToken)).Packet);
            Assert.Equal(ConnectReturnCode.Accepted, connAck.ReturnCode);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    public async Task SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        while (!bytes.IsEmpty)
        {
            var sent = await Socket.SendAsync(bytes, SocketFlags.None, cancellationToken);
            bytes = bytes[sent..];
        }
    }

    public async Task SubscribeAsync(string filter, QualityOfService qos, ushort packetId, CancellationToken cancellationToken)
    {
        await SendAsync(Subscribe(filter, qos, packetId), cancellationToken);
        var subAck = Assert.IsType<SubAckPacket>((await ReadAsync(cancellationToken)).Packet);
        Assert.Equal(packetId, subAck.PacketId);
        Assert.Equal([(ReasonCode)qos], subAck.ReasonCodes);
    }

    /// Reads the next packet. Fails if the server closes the connection first.
    public async Task<Received> ReadAsync(CancellationToken cancellationToken) =>
        await TryReadAsync(cancellationToken) ?? throw new Xunit.Sdk.XunitException("the server closed the connection");

    /// Reads the next packet; null when the stream ends (the server closed) cleanly between packets.
    public async Task<Received?> TryReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var sequence = new ReadOnlySequence<byte>(_buffer, 0, _filled);
            var status = _frames.TryRead(sequence, out var raw, out var consumed, out var error);
            Assert.True(status != FrameStatus.Invalid, $"the server sent an invalid frame ({error})");
            if (status == FrameStatus.Complete)
            {
                var received = Decode(raw);
                var used = (int)sequence.Slice(0, consumed).Length;
                _buffer.AsSpan(used, _filled - used).CopyTo(_buffer);
                _filled -= used;
                return received;
            }

            if (_filled == _buffer.Length)
                Array.Resize(ref _buffer, _buffer.Length * 2);
            var room = _buffer.AsMemory(_filled);
            if (ReadSize > 0 && room.Length > ReadSize)
                room = room[..ReadSize];
            var n = await Socket.ReceiveAsync(room, SocketFlags.None, cancellationToken);
            if (n == 0)
            {
                Assert.True(_filled == 0, $"the stream ended inside a packet ({_filled} bytes of it)");
                return null;
            }

            _filled += n;
            BytesRead += n;
            if (ReadPause > TimeSpan.Zero)
                await Task.Delay(ReadPause, cancellationToken);
        }
    }

    /// Waits for the server to close: true when the stream ends with nothing more in it.
    public async Task<bool> EndsAsync(CancellationToken cancellationToken) => await TryReadAsync(cancellationToken) is null;

    /// Resets the connection (RST instead of FIN): SO_LINGER on with a zero timeout, then close.
    public void Reset()
    {
        Socket.LingerState = new LingerOption(true, 0);
        Socket.Close();
    }

    public void Dispose()
    {
        Socket.Dispose();
        _frames.Dispose();
    }

    private static Received Decode(in RawPacket raw)
    {
        if (raw.Type == PacketType.Publish)
        {
            Assert.Equal(DecodeError.None, MqttDecoder.DecodePublish(raw, Version, out var publish));
            return new Received(PacketType.Publish, null, publish.TopicString, publish.Payload.ToArray(), publish.QoS, publish.PacketId);
        }

        Assert.Equal(DecodeError.None, MqttDecoder.Decode(raw, Version, out var packet));
        return new Received(raw.Type, packet, null, null, default, 0);
    }

    public static byte[] Connect(string clientId) =>
        MqttEncoder.Encode(new ConnectPacket { ProtocolVersion = Version, ClientId = clientId, CleanStart = true, KeepAlive = 0 }, Version);

    public static byte[] Subscribe(string filter, QualityOfService qos, ushort packetId) =>
        MqttEncoder.Encode(new SubscribePacket { PacketId = packetId, Subscriptions = [new TopicSubscription(filter, qos)] }, Version);

    public static byte[] Publish(string topic, ReadOnlyMemory<byte> payload, QualityOfService qos = QualityOfService.AtMostOnce, ushort packetId = 0)
    {
        var writer = new ArrayBufferWriter<byte>();
        MqttEncoder.WritePublish(writer, new PublishPacket { Topic = Encoding.UTF8.GetBytes(topic), Payload = payload, QoS = qos, PacketId = packetId }, Version);
        return writer.WrittenSpan.ToArray();
    }

    public static byte[] PingReq => MqttEncoder.PingReq.ToArray();

    public static byte[] Disconnect => MqttEncoder.Encode(new DisconnectPacket(), Version);
}

/// A packet read by <see cref="WireClient"/>: a PUBLISH as its topic and a copy of its payload, anything else decoded.
internal sealed record Received(PacketType Type, MqttPacket? Packet, string? Topic, byte[]? Payload, QualityOfService QoS, ushort PacketId);
