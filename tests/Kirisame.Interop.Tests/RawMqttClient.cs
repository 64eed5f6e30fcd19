using System.Net.Sockets;
using System.Text;

namespace Kirisame.Interop.Tests;

/// Hand-made CONNECT bytes for the one thing the client libraries will not do on purpose: vanish without a
/// DISCONNECT, as a crashed device does.
internal static class RawMqttClient
{
    /// Connects with a QoS 1 will (protocol level 4 = 3.1.1, 5 = 5.0), waits for a successful CONNACK, then
    /// closes the socket without sending DISCONNECT.
    public static async Task ConnectWithWillAndDropAsync(int port, byte protocolLevel, string clientId, string willTopic, string willPayload)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var cts = new CancellationTokenSource(MqttNetClient.Timeout);
        await socket.ConnectAsync("127.0.0.1", port, cts.Token);

        var body = new List<byte>();
        AddString(body, "MQTT");
        body.Add(protocolLevel);
        body.Add(0x02 | 0x04 | (1 << 3)); // clean session, will flag, will QoS 1
        body.AddRange([0x00, 0x3C]); // keep alive 60 s
        if (protocolLevel == 5)
            body.Add(0x00); // no CONNECT properties
        AddString(body, clientId);
        if (protocolLevel == 5)
            body.Add(0x00); // no will properties
        AddString(body, willTopic);
        AddString(body, willPayload);

        var packet = new List<byte> { 0x10 };
        WireBytes.AddVariableByteInteger(packet, body.Count);
        packet.AddRange(body);
        await socket.SendAsync(packet.ToArray(), SocketFlags.None, cts.Token);

        var connack = new byte[64];
        var read = 0;
        while (read < 4)
        {
            var n = await socket.ReceiveAsync(connack.AsMemory(read), SocketFlags.None, cts.Token);
            Assert.True(n > 0, "The broker closed the connection instead of sending CONNACK.");
            read += n;
        }
        Assert.Equal(0x20, connack[0]);
        Assert.Equal(0x00, connack[3]); // return code / reason code: success
        socket.Close();
    }

    private static void AddString(List<byte> buffer, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        buffer.Add((byte)(bytes.Length >> 8));
        buffer.Add((byte)bytes.Length);
        buffer.AddRange(bytes);
    }
}
