using System.Globalization;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Security;

/// MQTT over WebSockets (ws and wss) with paho-mqtt's websockets transport and MQTTnet.
public sealed class WebSocketInteropTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(45);
    private readonly TestCertificates _certificates = new();

    public void Dispose() => _certificates.Dispose();

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    /// ExtraPorts[0] is ws (path /mqtt), ExtraPorts[1] wss (path /secure).
    private Task<KirisameProcess> StartAsync() =>
        KirisameProcess.StartAsync(2, ports =>
        [
            "--ws-port", Port(ports[0]),
            "--Listeners:wss:Protocol", "Wss", "--Listeners:wss:Port", Port(ports[1]), "--Listeners:wss:Path", "/secure",
            "--Listeners:wss:Certificate", _certificates.ServerCertificate, "--Listeners:wss:PrivateKey", _certificates.ServerKey,
        ]);

    [Fact]
    public async Task Paho_OverWs_And_Wss()
    {
        await using var server = await StartAsync();
        var script = Path.Combine(AppContext.BaseDirectory, "python", "websockets_roundtrip.py");

        var ws = await Tools.RunAsync(Tools.Python, [script, "127.0.0.1", Port(server.ExtraPorts[0]), "/mqtt"], s_timeout);
        Assert.True(ws.ExitCode == 0, ws.ToString());
        Assert.Contains("OK", ws.Stdout.Split('\n'));

        var wss = await Tools.RunAsync(Tools.Python, [script, "localhost", Port(server.ExtraPorts[1]), "/secure", _certificates.CaFile], s_timeout);
        Assert.True(wss.ExitCode == 0, wss.ToString());
        Assert.Contains("OK", wss.Stdout.Split('\n'));
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311, false)]
    [InlineData(MqttProtocolVersion.V500, false)]
    [InlineData(MqttProtocolVersion.V500, true)]
    public async Task MqttNet_OverWebSockets_PublishesAndReceives(MqttProtocolVersion version, bool secure)
    {
        await using var server = await StartAsync();
        var uri = secure ? $"wss://localhost:{server.ExtraPorts[1]}/secure" : $"ws://127.0.0.1:{server.ExtraPorts[0]}/mqtt";
        var topic = Unique.Topic("mqttnet-ws");
        await using var client = await MqttNetClient.ConnectAsync(builder =>
        {
            builder.WithWebSocketServer(ws => ws.WithUri(uri));
            if (secure)
                builder.WithTlsOptions(tls => TlsInteropTests.TrustingCa(tls, _certificates.Ca));
        }, version);
        await client.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);
        await client.PublishAsync(topic, "over websockets", MqttQualityOfServiceLevel.AtLeastOnce);
        var message = Assert.Single(await client.WaitForMessagesAsync(1));
        Assert.Equal("over websockets", message.Payload);
    }

    [Fact]
    public async Task WrongPath_IsNotFound_AndPlainHttp_IsABadRequest()
    {
        await using var server = await StartAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var wrong = await http.GetAsync(new Uri($"http://127.0.0.1:{server.ExtraPorts[0]}/other"));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, wrong.StatusCode);
        var plain = await http.GetAsync(new Uri($"http://127.0.0.1:{server.ExtraPorts[0]}/mqtt"));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, plain.StatusCode);
    }
}
