using System.Net;
using System.Net.Sockets;
using System.Text;
using Kirisame.Client;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Testing;
using static Kirisame.Client.Tests.KirisameClientTests;

namespace Kirisame.Client.Tests;

/// The client against Debian's mosquitto, and against a server that stops answering.
public sealed class MosquittoClientTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(15);

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task QoS2_RoundTripsThroughMosquitto(ProtocolVersion version)
    {
        await using var mosquitto = await MosquittoProcess.StartAsync();
        var url = $"127.0.0.1:{mosquitto.Port}";
        await using var client = await MqttClient.ConnectAsync(Options(url, version));
        await client.SubscribeAsync("m/#", QualityOfService.ExactlyOnce);

        var published = await MosquittoClients.PublishAsync(mosquitto.Port, "m/1", "from mosquitto_pub", qos: 2);
        var message = await client.Messages.ReadAsync().AsTask().WaitAsync(s_timeout);
        Assert.Equal(ReasonCode.Success, await client.PublishAsync("m/2", "from the client"u8.ToArray(), QualityOfService.ExactlyOnce));
        var echo = await client.Messages.ReadAsync().AsTask().WaitAsync(s_timeout);

        Assert.Equal(0, published.ExitCode);
        Assert.Equal(("m/1", "from mosquitto_pub", QualityOfService.ExactlyOnce), (message.Topic, Encoding.UTF8.GetString(message.Payload.Span), message.QoS));
        Assert.Equal(("m/2", "from the client"), (echo.Topic, Encoding.UTF8.GetString(echo.Payload.Span)));
    }

    [Fact]
    public async Task BridgeFlag_MosquittoDoesNotEchoWhatTheBridgePublished()
    {
        await using var mosquitto = await MosquittoProcess.StartAsync();
        var url = $"127.0.0.1:{mosquitto.Port}";
        await using var bridge = await MqttClient.ConnectAsync(Options(url, ProtocolVersion.V311) with { BridgeFlag = true });
        await using var plain = await MqttClient.ConnectAsync(Options(url, ProtocolVersion.V311));
        await bridge.SubscribeAsync("loop/#", QualityOfService.AtLeastOnce);
        await plain.SubscribeAsync("loop/#", QualityOfService.AtLeastOnce);

        await bridge.PublishAsync("loop/a", "from the bridge"u8.ToArray(), QualityOfService.AtLeastOnce);
        await plain.PublishAsync("loop/b", "from a client"u8.ToArray(), QualityOfService.AtLeastOnce);
        var atBridge = await bridge.Messages.ReadAsync().AsTask().WaitAsync(s_timeout);
        var atPlain = await plain.Messages.ReadAsync().AsTask().WaitAsync(s_timeout);

        // Both see loop/b; the bridge's own loop/a (published before it) went to the plain client only.
        Assert.Equal("loop/b", atBridge.Topic);
        Assert.Equal("loop/a", atPlain.Topic);
    }

    [Fact]
    public async Task KeepAlive_GivesUpOnAServerThatStopsAnswering()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var serving = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            var buffer = new byte[256];
            await socket.ReceiveAsync(buffer); // the CONNECT
            await socket.SendAsync(new byte[] { 0x20, 0x02, 0x00, 0x00 }); // CONNACK, then silence
            while (await socket.ReceiveAsync(buffer) > 0)
            {
                // PINGREQs go unanswered.
            }
        });
        await using var client = await MqttClient.ConnectAsync(Options($"127.0.0.1:{port}", ProtocolVersion.V311) with { KeepAlive = TimeSpan.FromSeconds(1) });

        var ended = await client.Disconnected.WaitAsync(s_timeout);

        Assert.Equal(ReasonCode.KeepAliveTimeout, ended.Reason);
        Assert.False(ended.ByClient);
        await serving.WaitAsync(s_timeout);
        await Assert.ThrowsAsync<MqttClientException>(() => client.PublishAsync("t", "x"u8.ToArray()));
    }
}
