using System.Net;
using System.Security.Cryptography;
using Kirisame.Interop.Tests.Management;
using Kirisame.Testing;

namespace Kirisame.Interop.Tests.Security.Hooks;

/// Issue 18, item 4, across the sources: the real server with a password file, JWT and the HTTP hooks chained; a wrong
/// password, an expired token, a hook that denies, a hook that fails, and a publish and a subscription the authorization hook refuses are
/// each logged with their cause and counted in /metrics — and neither the log nor /metrics holds a password or a token.
public sealed class RefusalsWithoutSecretsTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("kirisame-refusals-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task EveryRefusal_IsLoggedWithItsCauseAndCounted_AndNoSecretIsLogged()
    {
        const string RightPassword = "carol-right-7Hq2xV";
        const string WrongPassword = "carol-wrong-Zx81kP";
        const string DeniedPassword = "hooked-secret-Pq77wN";
        const string FailedPassword = "broken-secret-Lm55rT";
        var passwords = Path.Combine(_directory, "passwd");
        var made = await KirisameProcess.RunToCompletionAsync(["passwd", "-b", "--iterations", "1000", passwords, "carol", RightPassword], s_timeout);
        Assert.True(made.ExitCode == 0, made.ToString());
        var secret = TestTokens.NewSecret();
        var secretFile = Path.Combine(_directory, "secret");
        await File.WriteAllBytesAsync(secretFile, secret);
        var expiredToken = TestTokens.Hs256(secret, new { sub = "device", exp = TestTokens.In(TimeSpan.FromMinutes(-5)) });

        using var hook = new HookServer((path, body) => Task.FromResult(path switch
        {
            "/acl" => (200, HookServer.Field(body, "topic") == "forbidden/x" ? "{\"result\":\"deny\"}" : "{\"result\":\"allow\"}"),
            _ => HookServer.Field(body, "username") switch
            {
                "hooked" => (200, "{\"result\":\"deny\"}"),
                "broken" => (500, "{}"),
                _ => (200, "{\"result\":\"ignore\"}"),
            },
        }));
        await using var broker = await ManagedBroker.StartAsync(withCredentials: false,
            "--Authentication:Sources", "Http,Jwt,File", "--Authentication:Http:Url", hook.Url("auth"), "--Authentication:Http:AuthorizationUrl", hook.Url("acl"),
            "--Authentication:Jwt:SecretFile", secretFile, "--password-file", passwords,
            "--Security:FailedLoginDelay", "00:00:00.1", "--Security:MaxFailedLogins", "0");
        var log = broker.Server.Process;

        // Each from its own address: refused CONNECTs are logged in full once a minute per address.
        (string From, string User, string Password, int ConnAck, string Cause)[] refusals =
        [
            ("127.0.0.2", "carol", WrongPassword, 0x86, "file: wrong password"),
            ("127.0.0.3", "device", expiredToken, 0x86, "jwt: the token has expired"),
            ("127.0.0.4", "hooked", DeniedPassword, 0x87, "http: the HTTP hook answered deny"),
            ("127.0.0.5", "broken", FailedPassword, 0x87, "http: hook failed: HTTP 500"),
        ];
        foreach (var (from, user, password, connAck, cause) in refusals)
        {
            using var session = await RawSession.ConnectAsync(broker.MqttPort, from: from, user: user, password: password);
            Assert.Equal(connAck, session.ConnAck);
            Assert.NotNull(await log.WaitForLineAsync(l => l.Contains("Refused connection", StringComparison.Ordinal) && l.Contains(cause, StringComparison.Ordinal), s_timeout));
        }

        using (var carol = await RawSession.ConnectAsync(broker.MqttPort, from: "127.0.0.6", user: "carol", password: RightPassword))
        {
            Assert.True(carol.Accepted);
            Assert.Equal(0x87, await carol.PublishAsync("forbidden/x", "m"));
            Assert.Equal(0x87, await carol.SubscribeAsync("forbidden/x"));
        }

        Assert.NotNull(await log.WaitForLineAsync(l => l.Contains("HTTP authorization refused Publish on 'forbidden/x'", StringComparison.Ordinal), s_timeout));
        Assert.NotNull(await log.WaitForLineAsync(l => l.Contains("may not publish to 'forbidden/x'", StringComparison.Ordinal), s_timeout));
        Assert.NotNull(await log.WaitForLineAsync(l => l.Contains("subscription to 'forbidden/x' refused with NotAuthorized", StringComparison.Ordinal), s_timeout));

        PrometheusText? metrics = null;
        var counted = await Poll.UntilAsync(() =>
        {
            using var response = broker.Client(Caller.Nobody).GetAsync("/metrics").GetAwaiter().GetResult();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            metrics = new PrometheusText(response.Content.ReadAsStringAsync().GetAwaiter().GetResult());
            return metrics.Value("kirisame_authorization_refused_total", ("source", "http"), ("action", "publish")) >= 1;
        }, s_timeout);
        Assert.True(counted, "no authorization refusal in /metrics:\n" + metrics?.Text);
        Assert.Equal(1, metrics!.Value("kirisame_authentication_refused_total", ("source", "file"), ("reason", "bad_password")));
        Assert.Equal(1, metrics.Value("kirisame_authentication_refused_total", ("source", "jwt"), ("reason", "expired")));
        Assert.Equal(1, metrics.Value("kirisame_authentication_refused_total", ("source", "http"), ("reason", "hook_deny")));
        Assert.Equal(1, metrics.Value("kirisame_authentication_refused_total", ("source", "http"), ("reason", "hook_failed")));

        var output = log.Describe();
        foreach (var secretText in new[] { RightPassword, WrongPassword, DeniedPassword, FailedPassword, expiredToken, expiredToken.Split('.')[2] })
        {
            Assert.DoesNotContain(secretText, output, StringComparison.Ordinal);
            Assert.DoesNotContain(secretText, metrics.Text, StringComparison.Ordinal);
        }
    }
}
