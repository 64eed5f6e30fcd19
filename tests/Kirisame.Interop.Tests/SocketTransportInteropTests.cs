using System.Buffers;
using System.Net.Sockets;
using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests;

/// The socket transport behind plain TCP listeners (Transport:PlainTcpEngine: Epoll, the default on Linux
/// x86-64, or Sockets): what its buffers must get right — packets larger than a receive buffer, a client that
/// stops reading so sends have to wait and resume mid-packet — and that Kestrel can still be chosen instead.
/// Transport/EpollTransportTests goes further into the epoll engine.
public sealed class SocketTransportInteropTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("Epoll", 100_000)]
    [InlineData("Epoll", 3_000_000)]
    [InlineData("Sockets", 100_000)]
    [InlineData("Sockets", 3_000_000)]
    public async Task PacketsLargerThanTheBuffers_ArriveIntact(string engine, int size)
    {
        await using var server = await KirisameProcess.StartAsync(
            ["--in-memory", "--Broker:MaximumPacketSize", "4194304", "--Transport:PlainTcpEngine", engine]);
        var topic = Unique.Topic("large");
        var payload = Pattern(size, seed: 7);
        await using var subscriber = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500);
        await using var publisher = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500);
        await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);

        await publisher.Client.PublishBinaryAsync(topic, payload, MqttQualityOfServiceLevel.AtLeastOnce);

        Assert.True(await Poll.UntilAsync(() => subscriber.ApplicationMessages.Count == 1, s_timeout), "the large message did not arrive");
        Assert.Equal(payload, subscriber.ApplicationMessages[0].Payload.ToArray());
    }

    /// A subscriber that does not read fills its socket; the broker's sends must then wait and resume
    /// where they stopped, mid-packet, without losing or corrupting a byte. The queue bounds are raised so
    /// that nothing is dropped: every message must arrive, in order, once the subscriber reads again.
    [Theory]
    [InlineData("Epoll")]
    [InlineData("Sockets")]
    public async Task SubscriberThatStopsReading_ReceivesEverythingIntact_WhenItReadsAgain(string engine)
    {
        await using var server = await KirisameProcess.StartAsync(
            ["--in-memory", "--Broker:MaxQueuedMessages", "100000", "--Broker:MaxQueuedBytes", "268435456", "--Transport:PlainTcpEngine", engine]);
        var topic = Unique.Topic("stalled");
        using var subscriber = await RawSubscriber.ConnectAsync(server.Port, topic);
        await using var publisher = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V311);

        const int count = 400;
        const int size = 32 * 1024; // 12.8 MB in all: far beyond what the kernel buffers on loopback
        for (var i = 0; i < count; i++)
            await publisher.Client.PublishBinaryAsync(topic, Pattern(size, seed: i), MqttQualityOfServiceLevel.AtMostOnce);
        // The publisher's last PINGRESP comes after the broker has routed all its publishes.
        using (var cts = new CancellationTokenSource(s_timeout))
            await publisher.Client.PingAsync(cts.Token);

        var received = await subscriber.ReadPublishesAsync(count, s_timeout);
        Assert.Equal(count, received.Count);
        for (var i = 0; i < count; i++)
            Assert.True(Pattern(size, seed: i).AsSpan().SequenceEqual(received[i]), $"message {i} differs");
    }

    /// A client that sends part of a packet and then closes its side: the end of the stream arrives with
    /// the bytes, and no further event follows; the server must still see it and close.
    [Theory]
    [InlineData("Epoll")]
    [InlineData("Sockets")]
    public async Task TruncatedPacketThenEndOfStream_ClosesTheConnection(string engine)
    {
        await using var server = await KirisameProcess.StartAsync(["--in-memory", "--Transport:PlainTcpEngine", engine]);
        for (var i = 0; i < 50; i++)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            using var cts = new CancellationTokenSource(s_timeout);
            await socket.ConnectAsync("127.0.0.1", server.Port, cts.Token);
            await socket.SendAsync(new byte[] { 0x10, 0x20, 0x00, 0x04, (byte)'M' }, SocketFlags.None, cts.Token); // CONNECT cut short
            socket.Shutdown(SocketShutdown.Send);
            var n = await socket.ReceiveAsync(new byte[16], SocketFlags.None, cts.Token); // 0: the server closed
            Assert.Equal(0, n);
        }
    }

    [Fact]
    public async Task KestrelEngine_StillServesPlainTcp()
    {
        await using var server = await KirisameProcess.StartAsync(["--in-memory", "--Transport:PlainTcpEngine", "Kestrel"]);
        var topic = Unique.Topic("kestrel");
        await using var subscriber = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V311);
        await using var publisher = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500);
        await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);

        await publisher.PublishAsync(topic, "through Kestrel", MqttQualityOfServiceLevel.AtLeastOnce);

        var message = Assert.Single(await subscriber.WaitForMessagesAsync(1));
        Assert.Equal("through Kestrel", message.Payload);
    }

    [Fact]
    public async Task UnknownEngine_StopsTheServer_NamingTheKey()
    {
        var result = await KirisameProcess.RunToCompletionAsync(["--port", "1", "--in-memory", "--Transport:PlainTcpEngine", "Turbo"], s_timeout);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Transport:PlainTcpEngine", result.Stderr, StringComparison.Ordinal);
    }

    private static byte[] Pattern(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// A subscriber on a bare socket, so that the test decides when it reads.
    private sealed class RawSubscriber : IDisposable
    {
        private readonly Socket _socket;
        private readonly MqttFrameReader _frames = new(int.MaxValue);
        private byte[] _buffer = new byte[64 * 1024];
        private int _filled;

        private RawSubscriber(Socket socket) => _socket = socket;

        public static async Task<RawSubscriber> ConnectAsync(int port, string topic)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
            {
                ReceiveBufferSize = 64 * 1024, // small, so the broker's side fills sooner
            };
            var subscriber = new RawSubscriber(socket);
            using var cts = new CancellationTokenSource(s_timeout);
            await socket.ConnectAsync("127.0.0.1", port, cts.Token);
            var connect = new ConnectPacket { ProtocolVersion = ProtocolVersion.V311, ClientId = Unique.ClientId("stalled"), CleanStart = true, KeepAlive = 0 };
            await socket.SendAsync(MqttEncoder.Encode(connect, ProtocolVersion.V311), SocketFlags.None, cts.Token);
            Assert.IsType<ConnAckPacket>(await subscriber.ReadPacketAsync(cts.Token));
            var subscribe = new SubscribePacket { PacketId = 1, Subscriptions = [new TopicSubscription(topic, QualityOfService.AtMostOnce)] };
            await socket.SendAsync(MqttEncoder.Encode(subscribe, ProtocolVersion.V311), SocketFlags.None, cts.Token);
            Assert.IsType<SubAckPacket>(await subscriber.ReadPacketAsync(cts.Token));
            return subscriber;
        }

        public async Task<List<byte[]>> ReadPublishesAsync(int count, TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            var payloads = new List<byte[]>();
            while (payloads.Count < count)
            {
                var packet = await ReadPacketAsync(cts.Token);
                var publish = Assert.IsType<PublishPacketObject>(packet);
                payloads.Add(publish.Payload);
            }

            return payloads;
        }

        private async Task<object> ReadPacketAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                var sequence = new ReadOnlySequence<byte>(_buffer, 0, _filled);
                var status = _frames.TryRead(sequence, out var raw, out var consumed, out var error);
                Assert.NotEqual(FrameStatus.Invalid, status);
                if (status == FrameStatus.Complete)
                {
                    object result;
                    if (raw.Type == PacketType.Publish)
                    {
                        Assert.Equal(DecodeError.None, MqttDecoder.DecodePublish(raw, ProtocolVersion.V311, out var publish));
                        result = new PublishPacketObject(publish.Payload.ToArray());
                    }
                    else
                    {
                        Assert.Equal(DecodeError.None, MqttDecoder.Decode(raw, ProtocolVersion.V311, out var decoded));
                        result = decoded!;
                    }

                    var used = (int)sequence.Slice(0, consumed).Length;
                    _buffer.AsSpan(used, _filled - used).CopyTo(_buffer);
                    _filled -= used;
                    return result;
                }

                if (_filled == _buffer.Length)
                    Array.Resize(ref _buffer, _buffer.Length * 2);
                var n = await _socket.ReceiveAsync(_buffer.AsMemory(_filled), SocketFlags.None, cancellationToken);
                Assert.True(n > 0, "the broker closed the connection");
                _filled += n;
            }
        }

        public void Dispose()
        {
            _socket.Dispose();
            _frames.Dispose();
        }
    }

    private sealed record PublishPacketObject(byte[] Payload);
}
