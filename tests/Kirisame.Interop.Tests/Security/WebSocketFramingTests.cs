using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using Kirisame.Testing;

namespace Kirisame.Interop.Tests.Security;

/// MQTT over WebSockets at the frame level (section 6), against the real process's ws listener: the client
/// libraries always send well-aligned binary frames, so these tests write the frames and the MQTT bytes by hand.
public sealed class WebSocketFramingTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(15);

    private static Task<KirisameProcess> StartAsync() =>
        KirisameProcess.StartAsync(1, ports => ["--ws-port", ports[0].ToString(CultureInfo.InvariantCulture)]);

    private static async Task<ClientWebSocket> OpenAsync(KirisameProcess server, params string[] subProtocols)
    {
        var socket = new ClientWebSocket();
        foreach (var protocol in subProtocols)
            socket.Options.AddSubProtocol(protocol);
        using var cts = new CancellationTokenSource(s_timeout);
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{server.ExtraPorts[0]}/mqtt"), cts.Token);
        return socket;
    }

    // [MQTT-6.0.0-4] the server selects "mqtt" whenever the client offers it, wherever it is in the list.
    // Issue 6: "mqttv3.1" is accepted for clients that offer only that; no subprotocol at all is accepted too;
    // anything else is refused at the upgrade.
    [Theory]
    [InlineData("mqtt", "mqtt")]
    [InlineData("mqttv3.1,mqtt", "mqtt")]
    [InlineData("chat,mqtt", "mqtt")]
    [InlineData("mqttv3.1", "mqttv3.1")]
    [InlineData("", null)]
    public async Task Server_SelectsTheMqttSubprotocol_AndSpeaksMqtt(string offered, string? selected)
    {
        await using var server = await StartAsync();
        using var socket = await OpenAsync(server, offered.Split(',', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(selected, socket.SubProtocol);

        // mqttv3.1 is the subprotocol of MQTT 3.1 clients: such a client gets on with a 3.1 CONNECT.
        await SendAsync(socket, selected == "mqttv3.1" ? Connect31("ws-31") : Connect("ws-sub-" + (selected ?? "none")));
        var reader = new PacketReader(socket);
        Assert.Equal([0x20, 0x02, 0x00, 0x00], await reader.NextAsync()); // CONNACK, accepted
    }

    [Fact]
    public async Task AnotherSubprotocol_IsRefusedAtTheUpgrade()
    {
        await using var server = await StartAsync();
        await Assert.ThrowsAsync<WebSocketException>(() => OpenAsync(server, "chat"));
    }

    // [MQTT-6.0.0-2] packets are not aligned on frame boundaries: one packet split over several WebSocket
    // messages, one split over the frames of a fragmented message, and several packets in one frame.
    [Fact]
    public async Task PacketsSplitAcrossFrames_AndSeveralInOneFrame_AreAllHandled()
    {
        await using var server = await StartAsync();
        using var socket = await OpenAsync(server, "mqtt");
        var reader = new PacketReader(socket);
        using var cts = new CancellationTokenSource(s_timeout);

        // CONNECT in three binary messages of 1, 5 and the remaining bytes.
        var connect = Connect("ws-split");
        foreach (var (start, length) in new[] { (0, 1), (1, 5), (6, connect.Length - 6) })
            await socket.SendAsync(connect.AsMemory(start, length), WebSocketMessageType.Binary, endOfMessage: true, cts.Token);
        Assert.Equal([0x20, 0x02, 0x00, 0x00], await reader.NextAsync());

        // SUBSCRIBE, then a PUBLISH to it and a PINGREQ, all in one frame.
        var topic = "ws/" + Guid.NewGuid().ToString("N");
        await SendAsync(socket, [.. Subscribe(1, topic), .. Publish(topic, "in one frame"), 0xC0, 0x00]);
        Assert.Equal([0x90, 0x03, 0x00, 0x01, 0x00], await reader.NextAsync()); // SUBACK, QoS 0 granted
        Assert.Equal(Publish(topic, "in one frame"), await reader.NextAsync());
        Assert.Equal([0xD0, 0x00], await reader.NextAsync()); // PINGRESP

        // A PUBLISH cut into the frames of one fragmented message, byte by byte for its fixed header.
        var publish = Publish(topic, "fragmented");
        for (var i = 0; i < publish.Length; i += i < 2 ? 1 : 4)
        {
            var length = Math.Min(i < 2 ? 1 : 4, publish.Length - i);
            await socket.SendAsync(publish.AsMemory(i, length), WebSocketMessageType.Binary, endOfMessage: i + length == publish.Length, cts.Token);
        }

        Assert.Equal(publish, await reader.NextAsync());
    }

    // [MQTT-6.0.0-1] a text data frame makes the server close the network connection.
    [Fact]
    public async Task TextFrame_MakesTheServerCloseTheConnection()
    {
        await using var server = await StartAsync();
        using var socket = await OpenAsync(server, "mqtt");
        await SendAsync(socket, Connect("ws-text"));
        var reader = new PacketReader(socket);
        Assert.Equal([0x20, 0x02, 0x00, 0x00], await reader.NextAsync());

        using var cts = new CancellationTokenSource(s_timeout);
        await socket.SendAsync("hello"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, cts.Token);
        var closed = await reader.ClosedAsync();
        Assert.True(closed, "the server kept the connection open after a text frame");
        Assert.Equal(WebSocketCloseStatus.InvalidMessageType, socket.CloseStatus);
    }

    private static async Task SendAsync(ClientWebSocket socket, byte[] bytes)
    {
        using var cts = new CancellationTokenSource(s_timeout);
        await socket.SendAsync(bytes, WebSocketMessageType.Binary, endOfMessage: true, cts.Token);
    }

    /// 3.1.1 CONNECT, clean session, keep alive 60 s.
    private static byte[] Connect(string clientId) => Packet(0x10, [.. String("MQTT"), 0x04, 0x02, 0x00, 0x3C, .. String(clientId)]);

    /// 3.1 CONNECT ("MQIsdp", level 3), the protocol of the mqttv3.1 subprotocol.
    private static byte[] Connect31(string clientId) => Packet(0x10, [.. String("MQIsdp"), 0x03, 0x02, 0x00, 0x3C, .. String(clientId)]);

    private static byte[] Subscribe(ushort packetId, string filter) =>
        Packet(0x82, [(byte)(packetId >> 8), (byte)packetId, .. String(filter), 0x00]);

    private static byte[] Publish(string topic, string payload) => Packet(0x30, [.. String(topic), .. Encoding.UTF8.GetBytes(payload)]);

    private static byte[] String(string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        return [(byte)(bytes.Length >> 8), (byte)bytes.Length, .. bytes];
    }

    private static byte[] Packet(byte header, byte[] body)
    {
        var packet = new List<byte> { header };
        WireBytes.AddVariableByteInteger(packet, body.Length);
        packet.AddRange(body);
        return [.. packet];
    }

    /// Reads whole MQTT packets from the server's binary messages, however they are framed.
    private sealed class PacketReader(ClientWebSocket socket)
    {
        private readonly List<byte> _buffer = [];

        public async Task<byte[]> NextAsync()
        {
            using var cts = new CancellationTokenSource(s_timeout);
            while (true)
            {
                if (TryTake(out var packet))
                    return packet;
                var chunk = new byte[4096];
                var result = await socket.ReceiveAsync(chunk, cts.Token);
                Assert.True(result.MessageType == WebSocketMessageType.Binary, $"expected an MQTT packet in a binary frame, got {result.MessageType}");
                _buffer.AddRange(chunk.AsSpan(0, result.Count));
            }
        }

        /// True once the server has closed the WebSocket (close frame or connection gone) within the timeout;
        /// MQTT packets still arriving before that are skipped.
        public async Task<bool> ClosedAsync()
        {
            using var cts = new CancellationTokenSource(s_timeout);
            try
            {
                while (true)
                {
                    var result = await socket.ReceiveAsync(new byte[4096], cts.Token);
                    if (result.MessageType == WebSocketMessageType.Close)
                        return true;
                }
            }
            catch (WebSocketException)
            {
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        private bool TryTake(out byte[] packet)
        {
            packet = [];
            if (_buffer.Count < 2)
                return false;
            int length = 0, multiplier = 1, index = 1;
            while (true)
            {
                if (index >= _buffer.Count)
                    return false;
                var digit = _buffer[index++];
                length += (digit & 0x7F) * multiplier;
                multiplier *= 128;
                if ((digit & 0x80) == 0)
                    break;
            }

            if (_buffer.Count < index + length)
                return false;
            packet = [.. _buffer.GetRange(0, index + length)];
            _buffer.RemoveRange(0, index + length);
            return true;
        }
    }
}
