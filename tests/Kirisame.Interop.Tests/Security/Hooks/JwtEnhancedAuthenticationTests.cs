using System.Security.Cryptography;
using System.Text;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Security.Hooks;

/// A JWT as MQTT 5 enhanced authentication (Authentication:Jwt:AuthenticationMethod, "JWT"): the token as the
/// CONNECT's Authentication Data, and re-authentication with a new token over AUTH 0x19 (section 4.12.1), against the
/// real server with MQTTnet.
public sealed class JwtEnhancedAuthenticationTests : IDisposable
{
    private const string Method = "JWT";
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private static readonly string[] s_lenient = ["--Security:FailedLoginDelay", "00:00:00.1", "--Security:MaxFailedLogins", "0"];
    private readonly string _directory = Directory.CreateTempSubdirectory("kirisame-jwt-auth-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private async Task<(byte[] Secret, KirisameProcess Server)> StartAsync()
    {
        var secret = RandomNumberGenerator.GetBytes(32);
        var secretFile = Path.Combine(_directory, "secret");
        await File.WriteAllBytesAsync(secretFile, secret);
        var server = await KirisameProcess.StartAsync(["--Authentication:Sources", "Jwt", "--Authentication:Jwt:SecretFile", secretFile,
            "--Authentication:Jwt:ClockSkew", "00:00:00", .. s_lenient]);
        return (secret, server);
    }

    private static Task<MqttNetClient> ConnectWithTokenAsync(int port, string token, TokenHandler handler) =>
        MqttNetClient.TryConnectAsync(port, MqttProtocolVersion.V500, configure: o => o
            .WithEnhancedAuthentication(Method, Encoding.ASCII.GetBytes(token))
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
        var (secret, server) = await StartAsync();
        await using var _ = server;

        var valid = TestTokens.Hs256(secret, new { exp = TestTokens.In(TimeSpan.FromHours(1)) });
        await using (var admitted = await ConnectWithTokenAsync(server.Port, valid, new TokenHandler()))
        {
            Assert.Equal(MqttClientConnectResultCode.Success, admitted.ConnectResult!.ResultCode);
            Assert.Equal(Method, admitted.ConnectResult.AuthenticationMethod); // [MQTT-4.12.0-5]
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
        var (secret, server) = await StartAsync();
        await using var _ = server;

        var firstExpiry = TestTokens.In(TimeSpan.FromSeconds(3));
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
        var (secret, server) = await StartAsync();
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
