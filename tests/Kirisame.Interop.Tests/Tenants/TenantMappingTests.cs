using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Kirisame.Interop.Tests.Security.Hooks;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Tenants;

/// How a client is mapped to its tenant besides `tenant:user` (TenantIsolationTests): the TLS server name it asked for,
/// its listener's tenant, a JWT claim and the HTTP authentication hook's answer; the HTTP hooks are told the tenant.
/// Which tenant a client landed in is seen from where its messages go: a subscriber in each candidate tenant.
public sealed class TenantMappingTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private readonly TenantFiles _files = new();
    private readonly TestCertificates _certificates = new();

    public void Dispose()
    {
        _files.Dispose();
        _certificates.Dispose();
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    /// A subscriber to "probe" in the tenant of <paramref name="user"/> (`tenant:user` with anonymous tenants).
    private static async Task<MqttNetClient> ProbeAsync(int port, string user, string? password = null)
    {
        var client = await MqttNetClient.ConnectAsync(port, MqttProtocolVersion.V500, configure: o => o.WithCredentials(user, password ?? ""));
        await client.SubscribeAsync("probe", MqttQualityOfServiceLevel.AtLeastOnce);
        return client;
    }

    /// <paramref name="sender"/> publishes to "probe": <paramref name="expected"/> gets it, and (after a PING round trip)
    /// none of <paramref name="others"/> did.
    private static async Task AssertLandsInAsync(MqttNetClient sender, MqttNetClient expected, params MqttNetClient[] others)
    {
        var payload = Guid.NewGuid().ToString("N");
        var before = expected.Messages.Count;
        await sender.PublishAsync("probe", payload, MqttQualityOfServiceLevel.AtLeastOnce);
        Assert.Equal(payload, (await expected.WaitForMessagesAsync(before + 1))[before].Payload);
        foreach (var other in others)
        {
            await other.PingAsync();
            Assert.DoesNotContain(other.Messages, m => m.Payload == payload);
        }
    }

    /// TLS trusting the test CA, asking for <paramref name="serverName"/> (sent as the TLS server name, SNI).
    private static void Tls(MqttClientTlsOptionsBuilder tls, X509Certificate2 ca, string serverName)
    {
        Security.TlsInteropTests.TrustingCa(tls, ca);
        tls.WithTargetHost(serverName);
    }

    [Fact]
    public async Task TlsServerName_AndTheListenersTenant_MapClientsWithoutATenantInTheirUserName()
    {
        // mosquitto_pub sends its -h host name as SNI, but names like a.localhost do not resolve here (getent hosts
        // a.localhost finds nothing), so the TLS clients are MQTTnet's with an explicit target host.
        _files.WriteTenants(new Dictionary<string, object>
        {
            ["a"] = new { AllowAnonymous = true, ServerNames = (string[])["a.tenants.test"] },
            ["b"] = new { AllowAnonymous = true, ServerNames = (string[])["b.tenants.test"] },
        });
        await using var server = await KirisameProcess.StartAsync(2, ports =>
        [
            "--tls-port", Port(ports[0]), "--cert", _certificates.ServerCertificate, "--key", _certificates.ServerKey,
            "--Listeners:tls:AllowAnonymous", "true", "--Listeners:forb:Port", Port(ports[1]), "--Listeners:forb:Tenant", "b",
            "--Tenants:File", _files.TenantsFile,
        ]);
        var (tls, forB) = (server.ExtraPorts[0], server.ExtraPorts[1]);
        await using var inA = await ProbeAsync(server.Port, "a:probe");
        await using var inB = await ProbeAsync(server.Port, "b:probe");
        await using var inDefault = await ProbeAsync(server.Port, "probe");

        await using (var viaSni = await MqttNetClient.ConnectAsync(o => o.WithTcpServer("127.0.0.1", tls).WithTlsOptions(t => Tls(t, _certificates.Ca, "a.tenants.test")),
            MqttProtocolVersion.V500))
            await AssertLandsInAsync(viaSni, inA, inB, inDefault);
        await using (var viaSni = await MqttNetClient.ConnectAsync(o => o.WithTcpServer("127.0.0.1", tls).WithTlsOptions(t => Tls(t, _certificates.Ca, "B.Tenants.Test")),
            MqttProtocolVersion.V500))
            await AssertLandsInAsync(viaSni, inB, inA, inDefault); // server names compare without case, as DNS names do
        // A server name no tenant has: the default tenant. A user name naming a tenant comes before the server name.
        await using (var other = await MqttNetClient.ConnectAsync(o => o.WithTcpServer("127.0.0.1", tls).WithTlsOptions(t => Tls(t, _certificates.Ca, "localhost")),
            MqttProtocolVersion.V500))
            await AssertLandsInAsync(other, inDefault, inA, inB);
        await using (var named = await MqttNetClient.ConnectAsync(o => o.WithTcpServer("127.0.0.1", tls).WithTlsOptions(t => Tls(t, _certificates.Ca, "a.tenants.test")),
            MqttProtocolVersion.V500, configure: o => o.WithCredentials("b:someone", "")))
            await AssertLandsInAsync(named, inB, inA, inDefault);

        // The listener "forb" puts clients that name no tenant in b; mosquitto_pub publishes there.
        var published = await Tools.RunAsync(MosquittoClients.Pub, ["-h", "127.0.0.1", "-p", Port(forB), "-q", "1", "-t", "probe", "-m", "via-listener"], s_timeout);
        Assert.True(published.ExitCode == 0, published.ToString());
        Assert.Equal("via-listener", Assert.Single(await inB.WaitForMessagesAsync(3), m => m.Payload == "via-listener").Payload);
        await inA.PingAsync();
        Assert.DoesNotContain(inA.Messages, m => m.Payload == "via-listener");
    }

    [Fact]
    public async Task JwtTenantClaim_ServesTheClientInThatTenant_UnlessItNamedAnother()
    {
        var (secret, server) = await _files.StartWithTenantClaimAsync();
        await using var _ = server;
        string Token(object claims) => TestTokens.Hs256(secret, claims);
        var forA = Token(new { org = "a", exp = TestTokens.In(TimeSpan.FromHours(1)) });
        var forB = Token(new { org = "b", exp = TestTokens.In(TimeSpan.FromHours(1)) });
        var noTenant = Token(new { exp = TestTokens.In(TimeSpan.FromHours(1)) });

        await using var inA = await ProbeAsync(server.Port, "device", forA);
        await using var inB = await ProbeAsync(server.Port, "device", forB);
        await using var inDefault = await ProbeAsync(server.Port, "device", noTenant);
        await using (var sender = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500, configure: o => o.WithCredentials("sender", forA)))
            await AssertLandsInAsync(sender, inA, inB, inDefault);
        // `b:device` names tenant b; a token of tenant a may not be used there.
        await using (var crossed = await MqttNetClient.TryConnectAsync(server.Port, MqttProtocolVersion.V500, configure: o => o.WithCredentials("b:device", forA)))
        {
            Assert.Equal(MqttClientConnectResultCode.NotAuthorized, crossed.ConnectResult!.ResultCode);
            Assert.Contains("credentials for tenant 'a' used in tenant 'b'", crossed.ConnectResult.ReasonString, StringComparison.Ordinal);
        }

        // A tenant that does not exist.
        var nowhere = Token(new { org = "nowhere", exp = TestTokens.In(TimeSpan.FromHours(1)) });
        await using (var lost = await MqttNetClient.TryConnectAsync(server.Port, MqttProtocolVersion.V500, configure: o => o.WithCredentials("device", nowhere)))
            Assert.Equal(MqttClientConnectResultCode.NotAuthorized, lost.ConnectResult!.ResultCode);
        Assert.DoesNotContain(forA, server.Process.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task HttpHooks_AreToldTheTenant_AndTheAuthenticationAnswerMayNameIt()
    {
        static string? Field(JsonElement? body, string name) =>
            body is { } b && b.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        using var hook = new HookServer((path, body) => Task.FromResult(path.Contains("acl", StringComparison.Ordinal)
            ? (200, "{\"result\":\"allow\"}")
            : Field(body, "username") == "tenantless" ? (200, "{\"result\":\"allow\",\"tenant\":\"a\"}") : (200, "{\"result\":\"allow\"}")));
        _files.WriteTenants(new Dictionary<string, object> { ["a"] = new { }, ["b"] = new { } });
        await using var server = await KirisameProcess.StartAsync(["--Authentication:Sources", "Http", "--Authentication:Http:Url", hook.Url("auth"),
            "--Authentication:Http:AuthorizationUrl", hook.Url("acl"), "--Tenants:File", _files.TenantsFile, .. TenantFiles.Lenient]);

        await using var inA = await ProbeAsync(server.Port, "a:dev", "pw");
        await using var inB = await ProbeAsync(server.Port, "b:dev", "pw");
        var authenticationOfA = hook.Requests.First(r => Field(r, "username") == "dev" && Field(r, "password") == "pw" && Field(r, "tenant") == "a");
        Assert.Equal("tcp", Field(authenticationOfA, "listener"));
        Assert.Contains(hook.Requests, r => Field(r, "action") == "subscribe" && Field(r, "topic") == "probe" && Field(r, "tenant") == "b");

        // No tenant in the user name: the hook is told "default" and its answer puts the client in a.
        await using var placed = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500, configure: o => o.WithCredentials("tenantless", "pw"));
        Assert.Contains(hook.Requests, r => Field(r, "username") == "tenantless" && Field(r, "tenant") == "default");
        await AssertLandsInAsync(placed, inA, inB);
        Assert.Contains(hook.Requests, r => Field(r, "action") == "publish" && Field(r, "topic") == "probe" && Field(r, "tenant") == "a");
    }
}
