using System.Globalization;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Security;

/// MQTT over TLS: mosquitto_pub/sub with --cafile (and --cert/--key), MQTTnet, and the refusals that
/// matter — old protocol versions and client certificates from another CA — plus certificate hot reload.
public sealed class TlsInteropTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(20);
    private readonly TestCertificates _certificates = new();

    public void Dispose() => _certificates.Dispose();

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    /// A server with a TLS listener (its port is ExtraPorts[0]) using the test certificates.
    private Task<KirisameProcess> StartAsync(params string[] extra) =>
        KirisameProcess.StartAsync(1, ports => ["--tls-port", Port(ports[0]), "--cert", _certificates.ServerCertificate, "--key", _certificates.ServerKey, .. extra]);

    private static string[] MosquittoTls(int port, string ca, params string[] extra) =>
        ["-h", "127.0.0.1", "-p", Port(port), "--cafile", ca, .. extra];

    [Fact]
    public async Task MosquittoClients_PublishAndSubscribe_OverTls()
    {
        await using var server = await StartAsync();
        var tls = server.ExtraPorts[0];
        var topic = Unique.Topic("tls");
        await using var subscriber = ExternalProcess.Start(Tools.Find("stdbuf", "/usr/bin/stdbuf"),
            ["-oL", MosquittoClients.Sub, .. MosquittoTls(tls, _certificates.CaFile, "-t", topic, "-v", "-d", "-C", "1")]);
        await MosquittoClients.WaitUntilSubscribedAsync(subscriber);

        var publish = await Tools.RunAsync(MosquittoClients.Pub, MosquittoTls(tls, _certificates.CaFile, "-t", topic, "-m", "over tls"), s_timeout);
        Assert.True(publish.ExitCode == 0, publish.ToString());
        Assert.NotNull(await subscriber.WaitForLineAsync(l => l == $"{topic} over tls", s_timeout));
    }

    [Fact]
    public async Task MosquittoClient_ThatDoesNotTrustTheServer_CannotConnect()
    {
        using var otherCa = new TestCertificates("Some Other CA");
        await using var server = await StartAsync();
        var result = await Tools.RunAsync(MosquittoClients.Pub, MosquittoTls(server.ExtraPorts[0], otherCa.CaFile, "-t", "x", "-m", "y"), s_timeout);
        Assert.True(result.ExitCode != 0, result.ToString());
    }

    [Fact]
    public async Task MutualTls_CertificateCommonName_IsTheUserName_ForTheAcl()
    {
        var acl = Path.Combine(_certificates.Directory, "acl");
        await File.WriteAllTextAsync(acl, "pattern readwrite users/%u/#\n");
        var (certificate, key, _) = _certificates.WriteClientCertificate("device1");
        await using var server = await StartAsync("--cafile", _certificates.CaFile, "--Listeners:tls:CertificateIdentity", "CommonName", "--acl-file", acl);
        var tls = server.ExtraPorts[0];

        await using var subscriber = ExternalProcess.Start(Tools.Find("stdbuf", "/usr/bin/stdbuf"),
            ["-oL", MosquittoClients.Sub, .. MosquittoTls(tls, _certificates.CaFile, "--cert", certificate, "--key", key, "-t", "users/device1/#", "-v", "-d", "-C", "1")]);
        await MosquittoClients.WaitUntilSubscribedAsync(subscriber);

        var publish = await Tools.RunAsync(MosquittoClients.Pub,
            MosquittoTls(tls, _certificates.CaFile, "--cert", certificate, "--key", key, "-t", "users/device1/status", "-m", "mine"), s_timeout);
        Assert.True(publish.ExitCode == 0, publish.ToString());
        Assert.NotNull(await subscriber.WaitForLineAsync(l => l == "users/device1/status mine", s_timeout));

        // Without a certificate the required-certificate listener does not even finish the handshake.
        var anonymous = await Tools.RunAsync(MosquittoClients.Pub, MosquittoTls(tls, _certificates.CaFile, "-t", "users/device1/x", "-m", "no"), s_timeout);
        Assert.True(anonymous.ExitCode != 0, anonymous.ToString());

        // Start-up said so, and did not warn that the ACL's user names are unverified on this listener: the
        // certificate's name is the user name (issue 17, item 10). The plain listener, with the same ACL and no
        // password file, is warned about.
        var log = server.Process.Stdout;
        Assert.Contains("Listener tls: no password file, user names from client certificates (CommonName)", log, StringComparison.Ordinal);
        Assert.DoesNotContain("Listener tls has an ACL file but no password file", log, StringComparison.Ordinal);
        Assert.Contains("Listener tcp has an ACL file but no password file", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientCertificate_FromAnotherCa_IsRefused()
    {
        using var otherCa = new TestCertificates("Another CA");
        var (_, _, stranger) = otherCa.WriteClientCertificate("stranger");
        var (_, _, friend) = _certificates.WriteClientCertificate("friend");
        await using var server = await StartAsync("--cafile", _certificates.CaFile);
        var tls = server.ExtraPorts[0];

        Assert.Equal((byte)0, await TlsClient.ConnectAsync(tls, _certificates.Ca, friend));
        Assert.Null(await TlsClient.ConnectAsync(tls, _certificates.Ca, stranger));
        Assert.Null(await TlsClient.ConnectAsync(tls, _certificates.Ca, clientCertificate: null));

        // The operator sees the refusals (issue 17, item 10: Kestrel logs them at Debug only): the first at once,
        // the next summed up.
        var line = await server.Process.WaitForLineAsync(l => l.Contains("Listener tls: a TLS handshake did not complete", StringComparison.Ordinal), s_timeout);
        Assert.True(line is not null, server.Describe());
        Assert.Contains(" warn ", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData((ushort)0x0301)] // TLS 1.0
    [InlineData((ushort)0x0302)] // TLS 1.1
    public async Task LegacyTlsVersions_AreRefused(ushort version)
    {
        await using var server = await StartAsync();
        var answer = await TlsClient.SendLegacyClientHelloAsync(server.ExtraPorts[0], version);
        Assert.NotEqual((byte)0x16, answer); // an alert (0x15) or a closed connection, never a ServerHello

        // TLS 1.2 and 1.3 are served.
        Assert.Equal((byte)0, await TlsClient.ConnectAsync(server.ExtraPorts[0], _certificates.Ca, null, SslProtocols.Tls12));
        Assert.Equal((byte)0, await TlsClient.ConnectAsync(server.ExtraPorts[0], _certificates.Ca, null, SslProtocols.Tls13));
    }

    [Fact]
    public async Task ReplacedCertificateFiles_AreServedToNewConnections_WithoutARestart()
    {
        await using var server = await StartAsync();
        var tls = server.ExtraPorts[0];
        var before = await TlsClient.GetServerCertificateAsync(tls, _certificates.Ca);

        // Renew as certbot would: new files written beside the old ones, then moved over them.
        var (certificate, key) = _certificates.WriteServerCertificate("renewed");
        File.Move(key, _certificates.ServerKey, overwrite: true);
        File.Move(certificate, _certificates.ServerCertificate, overwrite: true);

        var deadline = DateTime.UtcNow + s_timeout;
        X509Certificate2 after;
        while ((after = await TlsClient.GetServerCertificateAsync(tls, _certificates.Ca)).Thumbprint == before.Thumbprint)
        {
            Assert.True(DateTime.UtcNow < deadline, "the renewed certificate was never served");
            await Task.Delay(100); // the server looks at the files at most once a second
        }

        Assert.Equal(before.Subject, after.Subject);
        Assert.False(server.Process.HasExited);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task MqttNet_OverTls_PublishesAndReceives(MqttProtocolVersion version)
    {
        await using var server = await StartAsync();
        var topic = Unique.Topic("mqttnet-tls");
        await using var client = await MqttNetClient.ConnectAsync(
            builder => builder.WithTcpServer("127.0.0.1", server.ExtraPorts[0]).WithTlsOptions(TrustingTestCa),
            version);
        await client.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);
        await client.PublishAsync(topic, "secure", MqttQualityOfServiceLevel.AtLeastOnce);
        var message = Assert.Single(await client.WaitForMessagesAsync(1));
        Assert.Equal("secure", message.Payload);
    }

    private void TrustingTestCa(MqttClientTlsOptionsBuilder tls) => TrustingCa(tls, _certificates.Ca);

    internal static void TrustingCa(MqttClientTlsOptionsBuilder tls, X509Certificate2 ca) => tls
        .UseTls()
        .WithTargetHost("localhost")
        .WithSslProtocols(SslProtocols.Tls12 | SslProtocols.Tls13)
        .WithCertificateValidationHandler(e =>
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(X509CertificateLoader.LoadCertificate(e.Certificate.GetRawCertData()));
        });
}
