using System.Security.Cryptography;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;

namespace Kirisame.Interop.Tests.Security.Hooks;

/// The HTTP hook and a JWKS URL served over https with a certificate from a CA made in the test: trusted with the CA
/// file (CaFile), refused without it — fail closed, logged with the reason — and a client certificate presented to a
/// hook that requires one (ClientCertificate, ClientKey).
public sealed class OutboundTlsTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private static readonly string[] s_lenient = ["--Security:FailedLoginDelay", "00:00:00.1", "--Security:MaxFailedLogins", "0"];
    private readonly TestCertificates _certificates = new("Kirisame Hook Test CA");

    public void Dispose() => _certificates.Dispose();

    private static readonly (int, string) s_allow = (200, "{\"result\":\"allow\"}");

    private static Task<MqttNetClient> TryConnectAsync(int port, string password) =>
        MqttNetClient.TryConnectAsync(port, MqttProtocolVersion.V500, configure: o => o.WithCredentials("device", password));

    private static Task<KirisameProcess> StartWithHookAsync(string url, params string[] more) =>
        KirisameProcess.StartAsync(["--Authentication:Sources", "Http", "--Authentication:Http:Url", url, .. more, .. s_lenient]);

    [Fact]
    public async Task HttpsHook_SignedByAPrivateCa_IsTrustedWithTheCaFile_AndRefusedWithoutIt()
    {
        using var hook = new HttpsHookServer(_certificates, _ => s_allow);

        await using (var trusting = await StartWithHookAsync(hook.Url("auth"), "--Authentication:Http:CaFile", _certificates.CaFile))
        {
            await using var client = await TryConnectAsync(trusting.Port, "pw");
            Assert.Equal(MqttClientConnectResultCode.Success, client.ConnectResult!.ResultCode);
        }

        Assert.Equal(1, hook.Answered);
        await using (var system = await StartWithHookAsync(hook.Url("auth")))
        {
            await using var client = await TryConnectAsync(system.Port, "pw");
            Assert.Equal(MqttClientConnectResultCode.NotAuthorized, client.ConnectResult!.ResultCode);
            // Why, in the log: the chain does not lead to a CA the broker trusts (PartialChain: the hook sends its leaf alone).
            Assert.NotNull(await system.Process.WaitForLineAsync(l => l.Contains("HTTP hook", StringComparison.Ordinal)
                && l.Contains("could not be established: The remote certificate is invalid because of errors in the certificate chain", StringComparison.Ordinal), s_timeout));
        }

        // Another private CA's file does not make this one trusted: CaFile's CAs are the only ones.
        using var other = new TestCertificates("Another Test CA");
        await using (var wrongCa = await StartWithHookAsync(hook.Url("auth"), "--Authentication:Http:CaFile", other.CaFile))
        {
            await using var client = await TryConnectAsync(wrongCa.Port, "pw");
            Assert.Equal(MqttClientConnectResultCode.NotAuthorized, client.ConnectResult!.ResultCode);
            Assert.NotNull(await wrongCa.Process.WaitForLineAsync(l => l.Contains("HTTP hook", StringComparison.Ordinal)
                && l.Contains("errors in the certificate chain", StringComparison.Ordinal), s_timeout));
        }

        Assert.Equal(1, hook.Answered);
    }

    [Fact]
    public async Task HttpsHook_ThatRequiresAClientCertificate_IsAnsweredWhenOneIsConfigured()
    {
        using var hook = new HttpsHookServer(_certificates, _ => s_allow, requireClientCertificate: true);
        var (certificate, key, _) = _certificates.WriteClientCertificate("kirisame-broker");

        await using (var withCertificate = await StartWithHookAsync(hook.Url("auth"), "--Authentication:Http:CaFile", _certificates.CaFile,
            "--Authentication:Http:ClientCertificate", certificate, "--Authentication:Http:ClientKey", key))
        {
            await using var client = await TryConnectAsync(withCertificate.Port, "pw");
            Assert.Equal(MqttClientConnectResultCode.Success, client.ConnectResult!.ResultCode);
        }

        Assert.Equal("CN=kirisame-broker", Assert.Single(hook.ClientNames));
        await using (var without = await StartWithHookAsync(hook.Url("auth"), "--Authentication:Http:CaFile", _certificates.CaFile))
        {
            await using var client = await TryConnectAsync(without.Port, "pw");
            Assert.Equal(MqttClientConnectResultCode.NotAuthorized, client.ConnectResult!.ResultCode);
        }

        Assert.Equal(1, hook.Answered);
    }

    [Fact]
    public async Task HttpsJwksUrl_SignedByAPrivateCa_IsTrustedWithTheCaFile_AndRefusedWithoutIt()
    {
        using var signing = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var jwks = TestTokens.Jwks(("k1", signing));
        using var server = new HttpsHookServer(_certificates, _ => (200, jwks));
        var token = TestTokens.Es256(signing, new { exp = TestTokens.In(TimeSpan.FromHours(1)) }, kid: "k1");
        string[] jwt = ["--Authentication:Sources", "Jwt", "--Authentication:Jwt:JwksUrl", server.Url("jwks.json"), .. s_lenient];

        await using (var trusting = await KirisameProcess.StartAsync([.. jwt, "--Authentication:Jwt:CaFile", _certificates.CaFile]))
        {
            await using var client = await TryConnectAsync(trusting.Port, token);
            Assert.Equal(MqttClientConnectResultCode.Success, client.ConnectResult!.ResultCode);
        }

        await using (var system = await KirisameProcess.StartAsync(jwt))
        {
            Assert.NotNull(await system.Process.WaitForLineAsync(l => l.Contains("could not fetch the JWKS", StringComparison.Ordinal)
                && l.Contains("errors in the certificate chain", StringComparison.Ordinal), s_timeout));
            await using var client = await TryConnectAsync(system.Port, token);
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, client.ConnectResult!.ResultCode);
        }
    }

    [Fact]
    public async Task TlsFileThatIsNotACertificate_StopsTheServerNamingTheKey()
    {
        var notPem = Path.Combine(_certificates.Directory, "not-a-ca.pem");
        await File.WriteAllTextAsync(notPem, "hello");
        var result = await KirisameProcess.RunToCompletionAsync(["--Authentication:Sources", "Http", "--Authentication:Http:Url", "https://127.0.0.1:1/auth",
            "--Authentication:Http:CaFile", notPem], s_timeout);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Authentication:Http:CaFile", result.ToString(), StringComparison.Ordinal);
    }
}
