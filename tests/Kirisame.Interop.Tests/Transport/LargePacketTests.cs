using System.Buffers;
using System.Globalization;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Transport;

/// The default Broker:MaximumPacketSize (16 MiB, fixed header included) over every kind of listener: a PUBLISH
/// of exactly that size goes through and arrives byte for byte; one byte more is refused. Issue #13 item 7: the
/// old default (256 KiB) refused a 1 MB message that Mosquitto, HiveMQ and RabbitMQ accept by default. Each
/// listener has buffers of its own in front of the broker (our socket reader, Kestrel's transport pipe, TLS, the
/// WebSocket adapter), and a packet is held whole before it is handled, so each must let 16 MiB through.
public sealed class LargePacketTests : IDisposable
{
    private const int DefaultMaximumPacketSize = 16 * 1024 * 1024;
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);
    private readonly TestCertificates _certificates = new();

    public void Dispose() => _certificates.Dispose();

    [Theory]
    [InlineData("epoll", MqttProtocolVersion.V311)]
    [InlineData("epoll", MqttProtocolVersion.V500)]
    [InlineData("sockets", MqttProtocolVersion.V500)]
    [InlineData("kestrel", MqttProtocolVersion.V500)]
    [InlineData("tls", MqttProtocolVersion.V311)]
    [InlineData("ws", MqttProtocolVersion.V500)]
    [InlineData("wss", MqttProtocolVersion.V500)]
    public async Task PublishOfExactlyTheDefaultMaximum_IsDeliveredByteForByte(string listener, MqttProtocolVersion version)
    {
        await using var server = await StartAsync(listener);
        var topic = Unique.Topic("large");
        var payload = Pattern(PayloadFilling(DefaultMaximumPacketSize, topic, version), seed: 16);
        await using var subscriber = await MqttNetClient.ConnectAsync(Server(server, listener), version);
        await using var publisher = await MqttNetClient.ConnectAsync(Server(server, listener), version);
        await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);
        if (version == MqttProtocolVersion.V500)
            Assert.Equal((uint)DefaultMaximumPacketSize, publisher.ConnectResult!.MaximumPacketSize); // what CONNACK tells the client

        using (var cts = new CancellationTokenSource(s_timeout))
        {
            var result = await publisher.Client.PublishBinaryAsync(topic, payload, MqttQualityOfServiceLevel.AtLeastOnce, cancellationToken: cts.Token);
            Assert.True(result.IsSuccess, $"the broker refused the {DefaultMaximumPacketSize}-byte PUBLISH: {result.ReasonCode} {result.ReasonString}");
        }

        Assert.True(await Poll.UntilAsync(() => subscriber.ApplicationMessages.Count == 1, s_timeout), "the 16 MiB message did not arrive");
        Assert.True(payload.AsSpan().SequenceEqual(subscriber.ApplicationMessages[0].Payload.ToArray()), "the 16 MiB message arrived changed");
    }

    /// One byte over: refused from the fixed header, before the body is buffered, and the connection closed
    /// [MQTT-4.13.1-1]. MQTT 5 clients are told why: DISCONNECT 0x95 Packet too large (section 3.2.2.3.6); 3.1.1
    /// clients just lose the connection. Nothing reaches the subscriber, and the broker serves on.
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task PublishOneByteOverTheDefaultMaximum_IsRefused(MqttProtocolVersion version)
    {
        await using var server = await StartAsync("epoll");
        var topic = Unique.Topic("too-large");
        var payload = Pattern(PayloadFilling(DefaultMaximumPacketSize + 1, topic, version), seed: 17);
        await using var subscriber = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500);
        await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);
        await using var publisher = await MqttNetClient.ConnectAsync(server.Port, version);

        using (var cts = new CancellationTokenSource(s_timeout))
        {
            try
            {
                await publisher.Client.PublishBinaryAsync(topic, payload, MqttQualityOfServiceLevel.AtLeastOnce, cancellationToken: cts.Token);
            }
            catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException)
            {
                // The broker closed the connection while the client was still sending.
            }
        }

        var disconnected = await Poll.WithTimeout(publisher.Disconnected, s_timeout, "the broker to close the connection");
        if (version == MqttProtocolVersion.V500)
            Assert.Equal(MqttClientDisconnectReason.PacketTooLarge, disconnected.Reason);

        await subscriber.PingAsync();
        Assert.Empty(subscriber.ApplicationMessages);
        await using var other = await MqttNetClient.ConnectAsync(server.Port, version);
        await other.PublishAsync(topic, "small", MqttQualityOfServiceLevel.AtLeastOnce);
        Assert.Equal("small", Assert.Single(await subscriber.WaitForMessagesAsync(1)).Payload);
    }

    /// The payload that makes a QoS 1 PUBLISH to <paramref name="topic"/> exactly <paramref name="packetSize"/>
    /// bytes: fixed header (1 + 4 bytes of Remaining Length above 2 MiB), topic, packet identifier and, in MQTT 5,
    /// an empty property length.
    private static int PayloadFilling(int packetSize, string topic, MqttProtocolVersion version) =>
        packetSize - 5 - (2 + System.Text.Encoding.UTF8.GetByteCount(topic)) - 2 - (version == MqttProtocolVersion.V500 ? 1 : 0);

    private Task<KirisameProcess> StartAsync(string listener) => listener switch
    {
        "epoll" or "sockets" or "kestrel" => KirisameProcess.StartAsync(["--Transport:PlainTcpEngine", listener]),
        "tls" => KirisameProcess.StartAsync(1, ports => ["--tls-port", Port(ports[0]), "--cert", _certificates.ServerCertificate, "--key", _certificates.ServerKey]),
        "ws" => KirisameProcess.StartAsync(1, ports => ["--ws-port", Port(ports[0])]),
        "wss" => KirisameProcess.StartAsync(1, ports =>
        [
            "--Listeners:wss:Protocol", "Wss", "--Listeners:wss:Port", Port(ports[0]), "--Listeners:wss:Path", "/secure",
            "--Listeners:wss:Certificate", _certificates.ServerCertificate, "--Listeners:wss:PrivateKey", _certificates.ServerKey,
        ]),
        _ => throw new ArgumentOutOfRangeException(nameof(listener), listener, null),
    };

    private Action<MqttClientOptionsBuilder> Server(KirisameProcess server, string listener) => listener switch
    {
        "tls" => builder => builder.WithTcpServer("127.0.0.1", server.ExtraPorts[0]).WithTlsOptions(tls => Security.TlsInteropTests.TrustingCa(tls, _certificates.Ca)),
        "ws" => builder => builder.WithWebSocketServer(ws => ws.WithUri($"ws://127.0.0.1:{server.ExtraPorts[0]}/mqtt")),
        "wss" => builder => builder
            .WithWebSocketServer(ws => ws.WithUri($"wss://localhost:{server.ExtraPorts[0]}/secure"))
            .WithTlsOptions(tls => Security.TlsInteropTests.TrustingCa(tls, _certificates.Ca)),
        _ => builder => builder.WithTcpServer("127.0.0.1", server.Port),
    };

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static byte[] Pattern(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
