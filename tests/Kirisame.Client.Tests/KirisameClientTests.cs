using System.Text;
using Kirisame.Client;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Testing;

namespace Kirisame.Client.Tests;

/// The client against the real kirisame server: the handshake, QoS 0/1/2 both ways, subscribe and unsubscribe,
/// refusals, TLS and WebSockets.
public sealed class KirisameClientTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(15);

    internal static MqttClientOptions Options(string url, ProtocolVersion version, string clientId = "") => new()
    {
        Server = MqttServerAddress.Parse(url),
        ProtocolVersion = version,
        ClientId = clientId.Length > 0 ? clientId : "t-" + Guid.NewGuid().ToString("N")[..12],
    };

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task PublishAndSubscribe_RoundTripAtEveryQoS(ProtocolVersion version)
    {
        await using var server = await KirisameProcess.StartAsync();
        var url = $"mqtt://127.0.0.1:{server.Port}";
        await using var subscriber = await MqttClient.ConnectAsync(Options(url, version));
        await using var publisher = await MqttClient.ConnectAsync(Options(url, version));

        var granted = await subscriber.SubscribeAsync([new TopicSubscription("rt/#", QualityOfService.ExactlyOnce)]);
        Assert.Equal([ReasonCode.GrantedQoS2], granted);
        for (var qos = 0; qos <= 2; qos++)
        {
            var reason = await publisher.PublishAsync($"rt/{qos}", Encoding.UTF8.GetBytes($"m{qos}"), (QualityOfService)qos);
            Assert.True(reason is ReasonCode.Success, $"QoS {qos}: {reason}");
        }

        for (var qos = 0; qos <= 2; qos++)
        {
            var message = await subscriber.Messages.ReadAsync().AsTask().WaitAsync(s_timeout);
            Assert.Equal($"rt/{qos}", message.Topic);
            Assert.Equal($"m{qos}", Encoding.UTF8.GetString(message.Payload.Span));
            Assert.Equal((QualityOfService)qos, message.QoS);
        }
    }

    [Fact]
    public async Task ManyQoS1Publishes_ArriveInOrderThroughASmallWindow()
    {
        await using var server = await KirisameProcess.StartAsync();
        var url = $"mqtt://127.0.0.1:{server.Port}";
        await using var subscriber = await MqttClient.ConnectAsync(Options(url, ProtocolVersion.V500));
        await using var publisher = await MqttClient.ConnectAsync(Options(url, ProtocolVersion.V500) with { MaxInflight = 4 });
        await subscriber.SubscribeAsync("order", QualityOfService.AtLeastOnce);

        var sends = Enumerable.Range(0, 500).Select(i => publisher.PublishAsync("order", Encoding.UTF8.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture)), QualityOfService.AtLeastOnce)).ToList();
        var reasons = await Task.WhenAll(sends).WaitAsync(s_timeout);

        Assert.All(reasons, r => Assert.Equal(ReasonCode.Success, r));
        for (var i = 0; i < 500; i++)
        {
            var message = await subscriber.Messages.ReadAsync().AsTask().WaitAsync(s_timeout);
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), Encoding.UTF8.GetString(message.Payload.Span));
        }
    }

    [Fact]
    public async Task Unsubscribe_StopsDeliveries()
    {
        await using var server = await KirisameProcess.StartAsync();
        var url = $"mqtt://127.0.0.1:{server.Port}";
        await using var client = await MqttClient.ConnectAsync(Options(url, ProtocolVersion.V500));
        await client.SubscribeAsync("u/a");
        await client.SubscribeAsync("u/b");

        Assert.Equal([ReasonCode.Success], await client.UnsubscribeAsync(["u/a"]));
        Assert.Equal([ReasonCode.NoSubscriptionExisted], await client.UnsubscribeAsync(["u/none"]));
        await client.PublishAsync("u/a", "x"u8.ToArray(), QualityOfService.AtLeastOnce);
        await client.PublishAsync("u/b", "y"u8.ToArray(), QualityOfService.AtLeastOnce);

        var message = await client.Messages.ReadAsync().AsTask().WaitAsync(s_timeout);
        Assert.Equal("u/b", message.Topic); // u/a's message, published first, never came
    }

    [Fact]
    public async Task Refusal_SurfacesTheConnAckReasonCode()
    {
        await using var server = await KirisameProcess.StartAsync();
        // 3.1.1: an empty client id with a persistent session is refused with return code 2 [MQTT-3.1.3-8].
        var options = Options($"mqtt://127.0.0.1:{server.Port}", ProtocolVersion.V311) with { ClientId = "", CleanStart = false };

        var refused = await Assert.ThrowsAsync<MqttConnectException>(() => MqttClient.ConnectAsync(options));

        Assert.Equal(ReasonCode.ClientIdentifierNotValid, refused.Reason);
        Assert.Equal(ConnectReturnCode.IdentifierRejected, refused.ReturnCode);
        Assert.Contains("return code 2", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadPassword_IsRefusedWithBadUserNameOrPassword()
    {
        var directory = Directory.CreateTempSubdirectory("kirisame-client-").FullName;
        try
        {
            var passwords = Path.Combine(directory, "passwd");
            var made = await KirisameProcess.RunToCompletionAsync(["passwd", "-b", passwords, "bridge", "right"], s_timeout);
            Assert.Equal(0, made.ExitCode);
            await using var server = await KirisameProcess.StartAsync(["--password-file", passwords]);

            var refused = await Assert.ThrowsAsync<MqttConnectException>(() =>
                MqttClient.ConnectAsync(Options($"mqtt://bridge:wrong@127.0.0.1:{server.Port}", ProtocolVersion.V500)));
            await using var accepted = await MqttClient.ConnectAsync(Options($"mqtt://bridge:right@127.0.0.1:{server.Port}", ProtocolVersion.V500));

            Assert.Equal(ReasonCode.BadUserNameOrPassword, refused.Reason);
            Assert.True(accepted.IsConnected);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task V5SessionExpiry_KeepsTheSessionAndQueuesForIt()
    {
        await using var server = await KirisameProcess.StartAsync();
        var url = $"mqtt://127.0.0.1:{server.Port}";
        var persistent = Options(url, ProtocolVersion.V500, "persistent-" + Guid.NewGuid().ToString("N")[..8]) with { CleanStart = false, SessionExpiryInterval = 300 };
        await using (var first = await MqttClient.ConnectAsync(persistent))
        {
            Assert.False(first.SessionPresent);
            await first.SubscribeAsync("queued", QualityOfService.AtLeastOnce);
        }

        await using (var publisher = await MqttClient.ConnectAsync(Options(url, ProtocolVersion.V500)))
            await publisher.PublishAsync("queued", "while away"u8.ToArray(), QualityOfService.AtLeastOnce);
        await using var second = await MqttClient.ConnectAsync(persistent);

        Assert.True(second.SessionPresent);
        var message = await second.Messages.ReadAsync().AsTask().WaitAsync(s_timeout);
        Assert.Equal("while away", Encoding.UTF8.GetString(message.Payload.Span));
    }

    [Fact]
    public async Task ManualAcknowledgement_LeavesAnUnacknowledgedMessageToBeSentAgain()
    {
        await using var server = await KirisameProcess.StartAsync();
        var url = $"mqtt://127.0.0.1:{server.Port}";
        var options = Options(url, ProtocolVersion.V500, "manual-" + Guid.NewGuid().ToString("N")[..8])
            with { CleanStart = false, SessionExpiryInterval = 300, AutoAcknowledge = false };
        await using (var first = await MqttClient.ConnectAsync(options))
        {
            await first.SubscribeAsync("manual", QualityOfService.AtLeastOnce);
            await first.PublishAsync("manual", "once"u8.ToArray(), QualityOfService.AtLeastOnce);
            var unacknowledged = await first.Messages.ReadAsync().AsTask().WaitAsync(s_timeout);
            Assert.False(unacknowledged.Duplicate);
        }

        await using var second = await MqttClient.ConnectAsync(options);
        var again = await second.Messages.ReadAsync().AsTask().WaitAsync(s_timeout);
        second.Acknowledge(again);

        Assert.Equal("once", Encoding.UTF8.GetString(again.Payload.Span));
        Assert.True(again.Duplicate); // sent again with DUP [MQTT-4.4.0-1]
    }

    [Fact]
    public async Task WebSocketAndTls_CarryMqtt()
    {
        using var certificates = new TestCertificates();
        await using var server = await KirisameProcess.StartAsync(2, ports =>
        [
            "--ws-port", ports[0].ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--tls-port", ports[1].ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--cert", certificates.ServerCertificate, "--key", certificates.ServerKey,
        ]);
        var tls = Options($"mqtts://localhost:{server.ExtraPorts[1]}", ProtocolVersion.V500) with { Tls = new MqttTlsOptions { CaFile = certificates.CaFile } };
        await using var overWebSocket = await MqttClient.ConnectAsync(Options($"ws://127.0.0.1:{server.ExtraPorts[0]}/mqtt", ProtocolVersion.V311));
        await using var overTls = await MqttClient.ConnectAsync(tls);

        await overWebSocket.SubscribeAsync("ws/t", QualityOfService.AtLeastOnce);
        await overTls.PublishAsync("ws/t", "over tls"u8.ToArray(), QualityOfService.AtLeastOnce);
        var message = await overWebSocket.Messages.ReadAsync().AsTask().WaitAsync(s_timeout);

        Assert.Equal("over tls", Encoding.UTF8.GetString(message.Payload.Span));
    }

    [Fact]
    public async Task Tls_RefusesAServerItsCaDoesNotVouchFor()
    {
        using var certificates = new TestCertificates();
        using var otherCa = new TestCertificates("Another CA");
        await using var server = await KirisameProcess.StartAsync(1, ports =>
        [
            "--tls-port", ports[0].ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--cert", certificates.ServerCertificate, "--key", certificates.ServerKey,
        ]);
        var url = $"mqtts://localhost:{server.ExtraPorts[0]}";

        var refused = await Assert.ThrowsAsync<MqttClientException>(() =>
            MqttClient.ConnectAsync(Options(url, ProtocolVersion.V500) with { Tls = new MqttTlsOptions { CaFile = otherCa.CaFile } }));
        await using var insecure = await MqttClient.ConnectAsync(Options(url, ProtocolVersion.V500) with { Tls = new MqttTlsOptions { Insecure = true } });

        Assert.Contains("failed", refused.Message, StringComparison.Ordinal);
        Assert.True(insecure.IsConnected);
    }

    [Fact]
    public async Task ConnectionRefused_IsAClientExceptionNamingTheServer()
    {
        var port = FreePort.GetLoopbackPort();

        var failed = await Assert.ThrowsAsync<MqttClientException>(() => MqttClient.ConnectAsync(Options($"mqtt://127.0.0.1:{port}", ProtocolVersion.V311)));

        Assert.Contains($"127.0.0.1:{port}", failed.Message, StringComparison.Ordinal);
    }
}
