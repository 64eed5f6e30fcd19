using System.Text;
using Kirisame.Interop.Tests.Security.Hooks;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Tenants;

/// MQTT 5 enhanced authentication (section 4.12) inside tenants: SCRAM-SHA-256 with the users of the tenant's own
/// password file, and the JWT method with a tenant claim, which serves the client in its tenant at CONNECT and does
/// not let a re-authentication move it to another one.
public sealed class TenantEnhancedAuthenticationTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private readonly TenantFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static Task<MqttNetClient> ScramAsync(int port, string connectUser, string user, string password)
    {
        var scram = new ScramAuthenticationHandler(user, password);
        return MqttNetClient.TryConnectAsync(port, MqttProtocolVersion.V500, configure: o => o
            .WithCredentials(connectUser, "")
            .WithEnhancedAuthentication(ScramAuthenticationHandler.Method, scram.ClientFirst())
            .WithEnhancedAuthenticationHandler(scram));
    }

    [Fact]
    public async Task Scram_WithTheTenantsOwnPasswordFile_ServesTheClientInItsTenant()
    {
        var passwords = Path.Combine(_files.Directory, "a.passwd");
        var written = await KirisameProcess.RunToCompletionAsync(["passwd", "-b", "--scram", passwords, "erin", "erin-secret"], s_timeout);
        Assert.True(written.ExitCode == 0, written.ToString());
        _files.WriteTenants(new Dictionary<string, object> { ["a"] = new { PasswordFile = passwords } });
        await using var server = await KirisameProcess.StartAsync(["--Tenants:File", _files.TenantsFile, "--allow-anonymous", .. TenantFiles.Lenient]);

        await using var client = await ScramAsync(server.Port, "a:erin", "erin", "erin-secret");
        Assert.Equal(MqttClientConnectResultCode.Success, client.ConnectResult!.ResultCode);
        Assert.Equal(ScramAuthenticationHandler.Method, client.ConnectResult.AuthenticationMethod);

        // It is in tenant a: a message it publishes reaches a's subscriber and not the default tenant's.
        await using var inA = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500, configure: o => o.WithCredentials("a:erin", "erin-secret"));
        await using var inDefault = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500);
        await inA.SubscribeAsync("probe", MqttQualityOfServiceLevel.AtLeastOnce);
        await inDefault.SubscribeAsync("probe", MqttQualityOfServiceLevel.AtLeastOnce);
        await client.PublishAsync("probe", "scram", MqttQualityOfServiceLevel.AtLeastOnce);
        Assert.Equal("scram", (await inA.WaitForMessagesAsync(1))[0].Payload);
        await inDefault.PingAsync();
        Assert.Empty(inDefault.Messages);

        await using (var wrong = await ScramAsync(server.Port, "a:erin", "erin", "not-erin-secret"))
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, wrong.ConnectResult!.ResultCode);
        // The default tenant has no password file, so no SCRAM users: the method is not offered there [MQTT-4.12.0-1].
        await using (var elsewhere = await ScramAsync(server.Port, "erin", "erin", "erin-secret"))
            Assert.Equal(MqttClientConnectResultCode.BadAuthenticationMethod, elsewhere.ConnectResult!.ResultCode);
    }

    [Fact]
    public async Task JwtMethod_WithATenantClaim_ServesTheClientInThatTenant_AndReauthenticationCannotMoveIt()
    {
        var (secret, server) = await _files.StartWithTenantClaimAsync();
        await using var _ = server;
        string Token(string tenant) => TestTokens.Hs256(secret, new { org = tenant, exp = TestTokens.In(TimeSpan.FromHours(1)) });

        await using var inA = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500, configure: o => o.WithCredentials("probe", Token("a")));
        await using var inB = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500, configure: o => o.WithCredentials("probe", Token("b")));
        await inA.SubscribeAsync("probe", MqttQualityOfServiceLevel.AtLeastOnce);
        await inB.SubscribeAsync("probe", MqttQualityOfServiceLevel.AtLeastOnce);

        // The token as the CONNECT's Authentication Data, with no user name: the claim alone names the tenant.
        await using var client = await MqttNetClient.TryConnectAsync(server.Port, MqttProtocolVersion.V500, configure: o => o
            .WithEnhancedAuthentication("JWT", Encoding.ASCII.GetBytes(Token("a"))));
        Assert.Equal(MqttClientConnectResultCode.Success, client.ConnectResult!.ResultCode);
        await client.PublishAsync("probe", "jwt", MqttQualityOfServiceLevel.AtLeastOnce);
        Assert.Equal("jwt", (await inA.WaitForMessagesAsync(1))[0].Payload);
        await inB.PingAsync();
        Assert.Empty(inB.Messages);

        // A re-authentication with tenant b's token would move the connection across tenants: refused, 0x87.
        using (var cts = new CancellationTokenSource(s_timeout))
        {
            await client.Client.SendEnhancedAuthenticationExchangeDataAsync(new MqttEnhancedAuthenticationExchangeData
            {
                ReasonCode = MqttAuthenticateReasonCode.ReAuthenticate,
                AuthenticationData = Encoding.ASCII.GetBytes(Token("b")),
            }, cts.Token);
        }

        var disconnected = await Poll.WithTimeout(client.Disconnected, s_timeout, "the disconnection after a re-authentication into another tenant");
        Assert.Equal(MqttClientDisconnectReason.NotAuthorized, disconnected.Reason); // [MQTT-4.12.1-2]
        Assert.Contains("the token names tenant 'b', the connection is in tenant 'a'", disconnected.ReasonString, StringComparison.Ordinal);
    }
}
