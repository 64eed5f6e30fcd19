using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Kirisame.Testing;

namespace Kirisame.Interop.Tests.MqttSn;

/// The real `kirisame` process with its MQTT-SN gateway on a free loopback UDP port.
internal sealed class SnGateway : IAsyncDisposable
{
    public const ushort PredefinedId = 7;
    public const string PredefinedTopic = "sensors/predefined";

    private SnGateway(KirisameProcess server, int udpPort)
    {
        Server = server;
        UdpPort = udpPort;
    }

    public KirisameProcess Server { get; }

    /// The MQTT (TCP) port, for mosquitto_pub and mosquitto_sub.
    public int Port => Server.Port;

    public int UdpPort { get; }

    /// A UDP port that was free a moment ago (the server is retried by the caller if it is taken meanwhile).
    public static int FreeUdpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// Tretry 300 ms and Nretry 2 unless the arguments say otherwise, so retransmission tests take a second.
    public static async Task<SnGateway> StartAsync(params string[] arguments)
    {
        var udpPort = FreeUdpPort();
        var server = await KirisameProcess.StartAsync(
        [
            "--MqttSn:Enabled", "true", "--MqttSn:Port", udpPort.ToString(CultureInfo.InvariantCulture),
            "--MqttSn:RetryInterval", "00:00:00.300", "--MqttSn:RetryCount", "2", "--Broker:SysInterval", "0",
            $"--MqttSn:PredefinedTopics:{PredefinedId}", PredefinedTopic, .. arguments,
        ]);
        return new SnGateway(server, udpPort);
    }

    public SnTestClient Client() => new(UdpPort);

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}

public sealed class SnGatewayFixture : IAsyncLifetime
{
    internal SnGateway Gateway { get; private set; } = null!;

    public async Task InitializeAsync() => Gateway = await SnGateway.StartAsync();

    public async Task DisposeAsync() => await Gateway.DisposeAsync();
}
