using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Security.Hooks;

/// Authentication:Sources Jwt against the real server: tokens made in the test with keys made in the test.
public sealed class JwtInteropTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("kirisame-jwt-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// Refusals are expected here: a short delay and no ban.
    private static readonly string[] s_lenient = ["--Security:FailedLoginDelay", "00:00:00.1", "--Security:MaxFailedLogins", "0"];

    private static Task<MqttNetClient> TryConnectAsync(int port, string token, string? clientId = null, string user = "device") =>
        MqttNetClient.TryConnectAsync(port, MqttProtocolVersion.V500, clientId, o => o.WithCredentials(user, token));

    /// A server checking HS256 tokens with a secret made here, exp and nbf without tolerance.
    private async Task<(byte[] Secret, KirisameProcess Server)> StartWithSecretAsync(params string[] more)
    {
        var secret = TestTokens.NewSecret();
        var secretFile = Path.Combine(_directory, "secret");
        await File.WriteAllBytesAsync(secretFile, secret);
        var server = await KirisameProcess.StartAsync(["--Authentication:Sources", "Jwt", "--Authentication:Jwt:SecretFile", secretFile,
            "--Authentication:Jwt:ClockSkew", "00:00:00", .. more, .. s_lenient]);
        return (secret, server);
    }

    [Fact]
    public async Task Hs256Token_ValidIsAdmitted_ExpiredWrongAudienceWrongKeyAndAlgNoneAreRefused()
    {
        var (secret, server) = await StartWithSecretAsync("--Authentication:Jwt:Audience", "kirisame");
        await using var _ = server;

        var valid = TestTokens.Hs256(secret, new { sub = "d1", aud = "kirisame", exp = TestTokens.In(TimeSpan.FromHours(1)) });
        await using (var admitted = await TryConnectAsync(server.Port, valid))
            Assert.Equal(MqttClientConnectResultCode.Success, admitted.ConnectResult!.ResultCode);

        // mosquitto_pub (MQTT 3.1.1) with the token as its password.
        var published = await Tools.RunAsync(MosquittoClients.Pub, ["-h", "127.0.0.1", "-p", server.Port.ToString(CultureInfo.InvariantCulture),
            "-t", "t", "-m", "m", "-u", "device", "-P", valid], s_timeout);
        Assert.True(published.ExitCode == 0, published.ToString());

        var refused = new Dictionary<string, string>
        {
            ["expired"] = TestTokens.Hs256(secret, new { aud = "kirisame", exp = TestTokens.In(TimeSpan.FromMinutes(-5)) }),
            ["wrong_audience"] = TestTokens.Hs256(secret, new { aud = "someone-else", exp = TestTokens.In(TimeSpan.FromHours(1)) }),
            ["bad_signature"] = TestTokens.Hs256(RandomNumberGenerator.GetBytes(32), new { aud = "kirisame", exp = TestTokens.In(TimeSpan.FromHours(1)) }),
            ["alg_none"] = TestTokens.Unsigned(new { aud = "kirisame", exp = TestTokens.In(TimeSpan.FromHours(1)) }),
        };
        foreach (var (reason, token) in refused)
        {
            await using var client = await TryConnectAsync(server.Port, token);
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, client.ConnectResult!.ResultCode);
            Assert.Contains(Cause(reason), client.ConnectResult.ReasonString, StringComparison.Ordinal);
        }

        // Logged with the source and the cause (refusals from one address are logged once a minute, then summed up);
        // the token itself never.
        Assert.NotNull(await server.Process.WaitForLineAsync(l => l.Contains("Refused connection", StringComparison.Ordinal)
            && l.Contains("jwt: the token has expired", StringComparison.Ordinal), s_timeout));

        var output = server.Process.Describe();
        Assert.DoesNotContain(valid, output, StringComparison.Ordinal);
        foreach (var token in refused.Values)
            Assert.DoesNotContain(token.TrimEnd('.'), output, StringComparison.Ordinal);
    }

    private static string Cause(string reason) => reason switch
    {
        "expired" => "expired",
        "wrong_audience" => "audience",
        "bad_signature" => "signature",
        _ => "alg none",
    };

    private static readonly string[] s_devicePatterns = ["devices/%c/#"];
    private static readonly string[] s_commandPatterns = ["commands/%u/#"];

    [Fact]
    public async Task Rs256Token_AclClaimWithClientIdAndUserName_IsHonoured()
    {
        using var rsa = RSA.Create(2048);
        var keyFile = Path.Combine(_directory, "public.pem");
        await File.WriteAllTextAsync(keyFile, rsa.ExportSubjectPublicKeyInfoPem());
        await using var server = await KirisameProcess.StartAsync(["--Authentication:Sources", "Jwt", "--Authentication:Jwt:PublicKeyFile", keyFile,
            "--Authentication:Jwt:UserNameClaim", "sub", "--Authentication:Jwt:ClientIdClaim", "cid", .. s_lenient]);

        var token = TestTokens.Rs256(rsa, new
        {
            sub = "alice",
            cid = "sensor-7",
            exp = TestTokens.In(TimeSpan.FromHours(1)),
            acl = new { pub = s_devicePatterns, sub = s_commandPatterns },
        });
        await using var client = await TryConnectAsync(server.Port, token, clientId: "sensor-7", user: "ignored");
        Assert.Equal(MqttClientConnectResultCode.Success, client.ConnectResult!.ResultCode);

        await client.PublishAsync("devices/sensor-7/temperature", "21", MqttQualityOfServiceLevel.AtLeastOnce);
        using var cts = new CancellationTokenSource(s_timeout);
        var other = await client.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("devices/sensor-8/temperature").WithPayload("x")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), cts.Token);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, other.ReasonCode);

        await client.SubscribeAsync("commands/alice/#", MqttQualityOfServiceLevel.AtLeastOnce); // %u is the "sub" claim
        var refused = await client.Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("commands/bob/#").Build(), cts.Token);
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, Assert.Single(refused.Items).ResultCode);

        // The client id claim must match the CONNECT's client id.
        await using var impostor = await TryConnectAsync(server.Port, token, clientId: "sensor-8");
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, impostor.ConnectResult!.ResultCode);
    }

    [Fact]
    public async Task JwksUrl_KeyRotatedInTheServedDocument_NewTokensAreAccepted()
    {
        using var first = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var second = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var jwks = TestTokens.Jwks(("one", first));
        using var http = new HookServer((_, _) => Task.FromResult((200, Volatile.Read(ref jwks))));
        await using var server = await KirisameProcess.StartAsync(["--Authentication:Sources", "Jwt", "--Authentication:Jwt:JwksUrl", http.Url("jwks.json"),
            "--Authentication:Jwt:JwksMinimumRefresh", "00:00:00", .. s_lenient]);

        var claims = new { exp = TestTokens.In(TimeSpan.FromHours(1)) };
        await using (var one = await TryConnectAsync(server.Port, TestTokens.Es256(first, claims, kid: "one")))
            Assert.Equal(MqttClientConnectResultCode.Success, one.ConnectResult!.ResultCode);
        await using (var early = await TryConnectAsync(server.Port, TestTokens.Es256(second, claims, kid: "two")))
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, early.ConnectResult!.ResultCode);

        Volatile.Write(ref jwks, TestTokens.Jwks(("two", second))); // rotated: "one" withdrawn
        await using (var two = await TryConnectAsync(server.Port, TestTokens.Es256(second, claims, kid: "two")))
            Assert.Equal(MqttClientConnectResultCode.Success, two.ConnectResult!.ResultCode);
        await using (var withdrawn = await TryConnectAsync(server.Port, TestTokens.Es256(first, claims, kid: "one")))
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, withdrawn.ConnectResult!.ResultCode);
    }

    [Fact]
    public async Task Token_WhenItExpires_DisconnectsTheClientWithMaximumConnectTime()
    {
        var (secret, server) = await StartWithSecretAsync();
        await using var _ = server;

        var token = TestTokens.Hs256(secret, new { exp = TestTokens.In(TimeSpan.FromSeconds(3)) });
        await using var client = await TryConnectAsync(server.Port, token);
        Assert.Equal(MqttClientConnectResultCode.Success, client.ConnectResult!.ResultCode);
        var disconnected = await Poll.WithTimeout(client.Disconnected, s_timeout, "the disconnection at the token's expiry");
        Assert.Equal(MqttClientDisconnectReason.MaximumConnectTime, disconnected.Reason);
        Assert.NotNull(await server.Process.WaitForLineAsync(l => l.Contains("credentials expired", StringComparison.Ordinal), s_timeout));
    }

    [Fact]
    public async Task EdDsaToken_PemPublicKey_ValidIsAdmitted_WrongKeyAndTamperedAreRefused()
    {
        var key = TestTokens.NewEd25519Key();
        var keyFile = Path.Combine(_directory, "ed25519.pem");
        await File.WriteAllTextAsync(keyFile, TestTokens.Ed25519PublicPem(key));
        await using var server = await KirisameProcess.StartAsync(["--Authentication:Sources", "Jwt", "--Authentication:Jwt:PublicKeyFile", keyFile,
            "--Authentication:Jwt:UserNameClaim", "sub", .. s_lenient]);

        var valid = TestTokens.EdDsa(key, new { sub = "alice", exp = TestTokens.In(TimeSpan.FromHours(1)) });
        await using (var admitted = await TryConnectAsync(server.Port, valid))
            Assert.Equal(MqttClientConnectResultCode.Success, admitted.ConnectResult!.ResultCode);

        var wrongKey = TestTokens.EdDsa(TestTokens.NewEd25519Key(), new { sub = "alice", exp = TestTokens.In(TimeSpan.FromHours(1)) });
        var tampered = TestTokens.WithPayload(valid, new { sub = "root", exp = TestTokens.In(TimeSpan.FromHours(1)) });
        foreach (var token in new[] { wrongKey, tampered })
        {
            await using var client = await TryConnectAsync(server.Port, token);
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, client.ConnectResult!.ResultCode);
            Assert.Contains("signature", client.ConnectResult.ReasonString, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task EdDsaToken_OkpKeyInAJwksFile_IsFoundByKeyId()
    {
        var one = TestTokens.NewEd25519Key();
        var two = TestTokens.NewEd25519Key();
        var jwksFile = Path.Combine(_directory, "jwks.json");
        await File.WriteAllTextAsync(jwksFile, TestTokens.OkpJwks(("one", one), ("two", two)));
        await using var server = await KirisameProcess.StartAsync(["--Authentication:Sources", "Jwt", "--Authentication:Jwt:JwksFile", jwksFile, .. s_lenient]);
        Assert.NotNull(await server.Process.WaitForLineAsync(l => l.Contains("JWKS", StringComparison.Ordinal) && l.Contains("(2 keys", StringComparison.Ordinal), s_timeout));

        var claims = new { exp = TestTokens.In(TimeSpan.FromHours(1)) };
        await using (var first = await TryConnectAsync(server.Port, TestTokens.EdDsa(two, claims, kid: "two")))
            Assert.Equal(MqttClientConnectResultCode.Success, first.ConnectResult!.ResultCode);
        // Signed by "two" but naming "one": the key named does not verify it.
        await using (var misnamed = await TryConnectAsync(server.Port, TestTokens.EdDsa(two, claims, kid: "one")))
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, misnamed.ConnectResult!.ResultCode);
        await using (var stranger = await TryConnectAsync(server.Port, TestTokens.EdDsa(TestTokens.NewEd25519Key(), claims, kid: "two")))
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, stranger.ConnectResult!.ResultCode);
    }

    // ---------------------------------------------------------------- MQTT 5 enhanced authentication

    /// Authentication:Jwt:AuthenticationMethod's default: the token as the CONNECT's Authentication Data, and a new token
    /// over AUTH 0x19 to re-authenticate (section 4.12.1).
    private const string JwtMethod = "JWT";

    private static Task<MqttNetClient> ConnectWithTokenAsync(int port, string token, TokenHandler handler) =>
        MqttNetClient.TryConnectAsync(port, MqttProtocolVersion.V500, configure: o => o
            .WithEnhancedAuthentication(JwtMethod, Encoding.ASCII.GetBytes(token))
            .WithEnhancedAuthenticationHandler(handler));

    private static async Task ReauthenticateAsync(MqttNetClient client, string token)
    {
        using var cts = new CancellationTokenSource(s_timeout);
        await client.Client.SendEnhancedAuthenticationExchangeDataAsync(new MqttEnhancedAuthenticationExchangeData
        {
            ReasonCode = MqttAuthenticateReasonCode.ReAuthenticate,
            AuthenticationData = Encoding.ASCII.GetBytes(token),
        }, cts.Token);
    }

    [Fact]
    public async Task TokenAsAuthenticationData_IsAdmitted_AndAnExpiredOneIsRefusedWithItsCause()
    {
        var (secret, server) = await StartWithSecretAsync();
        await using var _ = server;

        var valid = TestTokens.Hs256(secret, new { exp = TestTokens.In(TimeSpan.FromHours(1)) });
        await using (var admitted = await ConnectWithTokenAsync(server.Port, valid, new TokenHandler()))
        {
            Assert.Equal(MqttClientConnectResultCode.Success, admitted.ConnectResult!.ResultCode);
            Assert.Equal(JwtMethod, admitted.ConnectResult.AuthenticationMethod); // [MQTT-4.12.0-5]
        }

        var expired = TestTokens.Hs256(secret, new { exp = TestTokens.In(TimeSpan.FromMinutes(-5)) });
        await using (var refused = await ConnectWithTokenAsync(server.Port, expired, new TokenHandler()))
        {
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, refused.ConnectResult!.ResultCode);
            Assert.Contains("the token has expired", refused.ConnectResult.ReasonString, StringComparison.Ordinal);
        }

        Assert.NotNull(await server.Process.WaitForLineAsync(l => l.Contains("Refused connection", StringComparison.Ordinal)
            && l.Contains("enhanced authentication failed: jwt: the token has expired", StringComparison.Ordinal), s_timeout));
        Assert.DoesNotContain(valid.Split('.')[2], server.Process.Describe(), StringComparison.Ordinal);
        Assert.DoesNotContain(expired.Split('.')[2], server.Process.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reauthentication_WithANewToken_MovesTheDisconnectionToTheNewExpiry()
    {
        var (secret, server) = await StartWithSecretAsync();
        await using var _ = server;

        var firstExpiry = TestTokens.In(TimeSpan.FromSeconds(6)); // room for a slow CONNECT on a loaded machine
        var handler = new TokenHandler();
        await using var client = await ConnectWithTokenAsync(server.Port, TestTokens.Hs256(secret, new { exp = firstExpiry }), handler);
        Assert.Equal(MqttClientConnectResultCode.Success, client.ConnectResult!.ResultCode);

        var renewedExpiry = firstExpiry + 5;
        await ReauthenticateAsync(client, TestTokens.Hs256(secret, new { exp = renewedExpiry }));
        Assert.Equal(MqttAuthenticateReasonCode.Success, await Poll.WithTimeout(handler.NextAuth(), s_timeout, "AUTH 0x00 ending the re-authentication"));

        // Disconnected at the renewed token's exp, not the first one's.
        var disconnected = await Poll.WithTimeout(client.Disconnected, s_timeout, "the disconnection at the renewed token's expiry");
        var at = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Assert.Equal(MqttClientDisconnectReason.MaximumConnectTime, disconnected.Reason);
        Assert.True(at >= renewedExpiry * 1000 - 200, $"disconnected {renewedExpiry * 1000 - at} ms before the renewed expiry");
    }

    [Fact]
    public async Task Reauthentication_WithAWrongOrExpiredToken_DisconnectsWithNotAuthorized()
    {
        var (secret, server) = await StartWithSecretAsync();
        await using var _ = server;
        var refused = new Dictionary<string, string>
        {
            ["the token's signature does not verify"] = TestTokens.Hs256(RandomNumberGenerator.GetBytes(32), new { exp = TestTokens.In(TimeSpan.FromHours(1)) }),
            ["the token has expired"] = TestTokens.Hs256(secret, new { exp = TestTokens.In(TimeSpan.FromMinutes(-5)) }),
        };

        foreach (var (cause, token) in refused)
        {
            await using var client = await ConnectWithTokenAsync(server.Port, TestTokens.Hs256(secret, new { exp = TestTokens.In(TimeSpan.FromHours(1)) }), new TokenHandler());
            Assert.Equal(MqttClientConnectResultCode.Success, client.ConnectResult!.ResultCode);

            await ReauthenticateAsync(client, token);
            var disconnected = await Poll.WithTimeout(client.Disconnected, s_timeout, "the disconnection after a refused re-authentication");
            Assert.Equal(MqttClientDisconnectReason.NotAuthorized, disconnected.Reason); // 0x87 [MQTT-4.12.1-2]
            Assert.Contains("re-authentication refused: jwt: " + cause, disconnected.ReasonString, StringComparison.Ordinal);
        }

        // Logged with its cause (the first of a kind per address and minute in full; the rest are summed up).
        Assert.NotNull(await server.Process.WaitForLineAsync(l => l.Contains("re-authentication refused: jwt: the token's signature does not verify", StringComparison.Ordinal), s_timeout));
    }

    /// Records the AUTH packets the server sends after CONNACK (AUTH 0x00 ends a re-authentication).
    private sealed class TokenHandler : IMqttEnhancedAuthenticationHandler
    {
        private readonly System.Threading.Channels.Channel<MqttAuthenticateReasonCode> _received = System.Threading.Channels.Channel.CreateUnbounded<MqttAuthenticateReasonCode>();

        public Task<MqttAuthenticateReasonCode> NextAuth() => _received.Reader.ReadAsync().AsTask();

        public Task HandleEnhancedAuthenticationAsync(MqttEnhancedAuthenticationEventArgs eventArgs)
        {
            _received.Writer.TryWrite(eventArgs.ReasonCode);
            return Task.CompletedTask;
        }
    }
}
