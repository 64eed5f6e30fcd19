using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;

namespace Kirisame.Bench.Clients;

/// One MQTT client connection on a raw socket: the handshake (CONNECT, SUBSCRIBE) through the codec's
/// general encoder, then the owner (publisher, subscriber, idle holder) reads and writes the socket itself.
/// Bytes the broker sent past the handshake stay in <see cref="Buffer"/> for the owner to parse.
internal sealed class BenchConnection : IDisposable
{
    public const ushort KeepAliveSeconds = 60;

    private readonly MqttFrameReader _frames = new(int.MaxValue);

    private BenchConnection(Socket socket, ProtocolVersion version, int bufferSize)
    {
        Socket = socket;
        Version = version;
        Buffer = new byte[bufferSize];
    }

    public Socket Socket { get; }

    public ProtocolVersion Version { get; }

    /// Receive buffer; bytes [0, <see cref="Filled"/>) are received and not yet parsed.
    public byte[] Buffer { get; private set; }

    public int Filled { get; set; }

    /// The broker's Receive Maximum (v5 CONNACK), or 65 535.
    public int ServerReceiveMaximum { get; private set; } = ushort.MaxValue;

    public MqttFrameReader Frames => _frames;

    public static async Task<BenchConnection> OpenAsync(
        EndPoint broker, IPAddress? localAddress, string clientId, ProtocolVersion version, int bufferSize, CancellationToken cancellationToken,
        uint sessionExpiry = 0)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (localAddress is not null)
            {
                // IP_BIND_ADDRESS_NO_PORT: choose the port at connect() from the whole 4-tuple, so each
                // source address gets its own ephemeral range instead of sharing the bind-time one.
                TrySetBindAddressNoPort(socket);
                socket.Bind(new IPEndPoint(localAddress, 0));
            }

            await socket.ConnectAsync(broker, cancellationToken);
            var connection = new BenchConnection(socket, version, bufferSize);
            await connection.HandshakeAsync(clientId, sessionExpiry, cancellationToken);
            return connection;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// CONNECT with keep alive <see cref="KeepAliveSeconds"/>; a persistent session when <paramref name="sessionExpiry"/> is not 0.
    public static byte[] EncodeConnect(string clientId, ProtocolVersion version, uint sessionExpiry = 0)
    {
        var v5 = version == ProtocolVersion.V500;
        var connect = new ConnectPacket
        {
            ProtocolVersion = version,
            ClientId = clientId,
            CleanStart = v5 || sessionExpiry == 0,
            KeepAlive = KeepAliveSeconds,
            Properties = v5 && sessionExpiry != 0 ? new MqttProperties { SessionExpiryInterval = sessionExpiry } : null,
        };
        return MqttEncoder.Encode(connect, version);
    }

    private async Task HandshakeAsync(string clientId, uint sessionExpiry, CancellationToken cancellationToken)
    {
        // A persistent session: MQTT 5 starts clean and says how long to keep it; 3.1.1 turns Clean Session off
        // (the client ids are new for every run, so there is never an old session to resume).
        await SendAllAsync(EncodeConnect(clientId, Version, sessionExpiry), cancellationToken);
        var packet = await ReadPacketAsync(cancellationToken);
        if (packet is not ConnAckPacket connAck)
            throw new BenchException($"Expected CONNACK for '{clientId}', got {packet.Type}.");
        if (connAck.ReasonCode != ReasonCode.Success)
        {
            // What the broker sent: a 3.1.1 return code, or a v5 reason code.
            var code = connAck.ReturnCode is { } returnCode ? $"{returnCode} (0x{(byte)returnCode:X2})" : $"{connAck.ReasonCode} (0x{(byte)connAck.ReasonCode:X2})";
            throw new BenchException($"The broker refused '{clientId}': CONNACK {code}.");
        }
        if (connAck.Properties?.ReceiveMaximum is { } receiveMaximum)
            ServerReceiveMaximum = receiveMaximum;
    }

    public async Task SubscribeAsync(string filter, QualityOfService qos, CancellationToken cancellationToken)
    {
        var subscribe = new SubscribePacket { PacketId = 1, Subscriptions = [new TopicSubscription(filter, qos)] };
        await SendAllAsync(MqttEncoder.Encode(subscribe, Version), cancellationToken);
        var packet = await ReadPacketAsync(cancellationToken);
        if (packet is not SubAckPacket subAck || subAck.PacketId != 1)
            throw new BenchException($"Expected SUBACK for '{filter}', got {packet.Type}.");
        if (subAck.ReasonCodes.Count != 1 || (byte)subAck.ReasonCodes[0] >= 0x80)
            throw new BenchException($"The broker refused the subscription to '{filter}'.");
        if ((byte)subAck.ReasonCodes[0] < (byte)qos)
            throw new BenchException($"The broker granted QoS {(byte)subAck.ReasonCodes[0]} for '{filter}', not {(byte)qos}; losses could not be judged.");
    }

    /// Closes with a reset instead of DISCONNECT: the broker discards what it has not read yet. An unthrottled
    /// QoS 0 publisher can leave seconds of messages in socket buffers, and the broker chewing through them
    /// would slow whatever is measured next.
    public void Abort()
    {
        try
        {
            Socket.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
        }

        Dispose();
    }

    /// Sends DISCONNECT and closes; errors are ignored (the run is over).
    public async Task CloseAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await Socket.SendAsync(new byte[] { 0xE0, 0x00 }, SocketFlags.None, timeout.Token);
            Socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }

        Dispose();
    }

    // Pooled builders: these run once per batch for the whole run, and a fresh state machine box each time
    // would be the generator's largest allocation.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SendAllAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        while (!bytes.IsEmpty)
        {
            var sent = await Socket.SendAsync(bytes, SocketFlags.None, cancellationToken);
            bytes = bytes[sent..];
        }
    }

    /// Receives more bytes after those already in the buffer, growing it when a packet does not fit.
    /// Returns false when the broker closed the connection.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> ReceiveAsync(CancellationToken cancellationToken)
    {
        if (Filled == Buffer.Length)
        {
            var larger = new byte[Buffer.Length * 2];
            Buffer.AsSpan(0, Filled).CopyTo(larger);
            Buffer = larger;
        }

        var received = await Socket.ReceiveAsync(Buffer.AsMemory(Filled), SocketFlags.None, cancellationToken);
        Filled += received;
        return received > 0;
    }

    /// Drops the first <paramref name="consumed"/> bytes, keeping a partial packet at the front.
    public void Compact(int consumed)
    {
        if (consumed == 0)
            return;
        Buffer.AsSpan(consumed, Filled - consumed).CopyTo(Buffer);
        Filled -= consumed;
    }

    private async Task<MqttPacket> ReadPacketAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var sequence = new ReadOnlySequence<byte>(Buffer, 0, Filled);
            var status = _frames.TryRead(sequence, out var raw, out var consumed, out var error);
            if (status == FrameStatus.Complete)
            {
                var decodeError = MqttDecoder.Decode(raw, Version, out var packet);
                if (decodeError != DecodeError.None || packet is null)
                    throw new BenchException($"The broker sent a malformed {raw.Type}: {decodeError}.");
                Compact((int)sequence.Slice(0, consumed).Length);
                return packet;
            }

            if (status == FrameStatus.Invalid)
                throw new BenchException($"The broker sent bytes that are not MQTT: {error}.");
            if (!await ReceiveAsync(cancellationToken))
                throw new BenchException("The broker closed the connection during the handshake.");
        }
    }

    private static void TrySetBindAddressNoPort(Socket socket)
    {
        if (!OperatingSystem.IsLinux())
            return;
        try
        {
            socket.SetRawSocketOption(0 /* IPPROTO_IP */, 24 /* IP_BIND_ADDRESS_NO_PORT */, [1, 0, 0, 0]);
        }
        catch (SocketException)
        {
        }
    }

    public void Dispose()
    {
        Socket.Dispose();
        _frames.Dispose();
    }
}
