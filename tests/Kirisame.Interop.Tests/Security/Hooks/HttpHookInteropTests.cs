using System.Text.Json;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Security.Hooks;

/// Authentication:Http — the HTTP authentication and authorization hooks against the real server, the hook served by
/// a small HTTP server in the test.
public sealed class HttpHookInteropTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("kirisame-hook-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static readonly string[] s_lenient = ["--Security:FailedLoginDelay", "00:00:00.1", "--Security:MaxFailedLogins", "0"];

    private static (int, string) Answer(string result) => (200, $"{{\"result\":\"{result}\"}}");

    private static Task<MqttNetClient> TryConnectAsync(int port, string user, string password, string? clientId = null) =>
        MqttNetClient.TryConnectAsync(port, MqttProtocolVersion.V500, clientId, o => o.WithCredentials(user, password));

    [Fact]
    public async Task AuthenticationHook_AllowDenyIgnore_IgnoreFallsToThePasswordFile_AndAnswersAreCached()
    {
        var passwords = Path.Combine(_directory, "passwd");
        var made = await KirisameProcess.RunToCompletionAsync(["passwd", "-b", "--iterations", "1000", passwords, "carol", "carol-secret"], s_timeout);
        Assert.True(made.ExitCode == 0, made.ToString());
        using var hook = new HookServer((_, body) => Task.FromResult(HookServer.Field(body, "username") switch
        {
            "allowed" when HookServer.Field(body, "password") == "right" => Answer("allow"),
            "denied" => Answer("deny"),
            _ => Answer("ignore"),
        }));
        await using var server = await KirisameProcess.StartAsync(["--Authentication:Sources", "Http,File", "--Authentication:Http:Url", hook.Url("auth"),
            "--password-file", passwords, .. s_lenient]);

        await using (var allowed = await TryConnectAsync(server.Port, "allowed", "right", "device-1"))
            Assert.Equal(MqttClientConnectResultCode.Success, allowed.ConnectResult!.ResultCode);
        await using (var again = await TryConnectAsync(server.Port, "allowed", "right", "device-1"))
            Assert.Equal(MqttClientConnectResultCode.Success, again.ConnectResult!.ResultCode);
        // The same client connecting twice within the TTL: one call to the hook.
        Assert.Single(hook.Requests, r => HookServer.Field(r, "username") == "allowed");
        var request = hook.Requests.First(r => HookServer.Field(r, "username") == "allowed");
        Assert.Equal("127.0.0.1", HookServer.Field(request, "peerhost"));
        Assert.Equal("tcp", HookServer.Field(request, "listener")); // the default listener's name
        Assert.Equal("default", HookServer.Field(request, "tenant")); // no tenants configured: the default tenant

        await using (var denied = await TryConnectAsync(server.Port, "denied", "whatever"))
            Assert.Equal(MqttClientConnectResultCode.NotAuthorized, denied.ConnectResult!.ResultCode);
        Assert.NotNull(await server.Process.WaitForLineAsync(l => l.Contains("http: the HTTP hook answered deny", StringComparison.Ordinal), s_timeout));

        // "ignore" → the password file decides.
        await using (var carol = await TryConnectAsync(server.Port, "carol", "carol-secret"))
            Assert.Equal(MqttClientConnectResultCode.Success, carol.ConnectResult!.ResultCode);
        await using (var wrong = await TryConnectAsync(server.Port, "carol", "not-carols"))
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, wrong.ConnectResult!.ResultCode);

        Assert.DoesNotContain("carol-secret", server.Process.Stdout + server.Process.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuthenticationHook_ThatDoesNotAnswerInTime_RefusesTheClient()
    {
        using var hook = new HookServer(async (_, _) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(5)); // the hook is slow: longer than the broker waits
            return Answer("allow");
        });
        await using var server = await KirisameProcess.StartAsync(["--Authentication:Sources", "Http", "--Authentication:Http:Url", hook.Url("auth"),
            "--Authentication:Http:Timeout", "00:00:00.5", .. s_lenient]);

        await using var client = await TryConnectAsync(server.Port, "anyone", "pw");
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, client.ConnectResult!.ResultCode);
        Assert.NotNull(await server.Process.WaitForLineAsync(l => l.Contains("Refused connection", StringComparison.Ordinal)
            && l.Contains("no answer within", StringComparison.Ordinal), s_timeout));
    }

    [Fact]
    public async Task AuthorizationHook_AllowsAndDeniesPublishAndSubscribe()
    {
        using var hook = new HookServer((_, body) => Task.FromResult(
            HookServer.Field(body, "topic") is { } topic && topic.StartsWith("ok/", StringComparison.Ordinal) ? Answer("allow") : Answer("deny")));
        await using var server = await KirisameProcess.StartAsync(["--Security:AllowAnonymous", "true",
            "--Authentication:Http:AuthorizationUrl", hook.Url("acl"), .. s_lenient]);

        await using var client = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500);
        await client.SubscribeAsync("ok/#", MqttQualityOfServiceLevel.AtLeastOnce);
        using var cts = new CancellationTokenSource(s_timeout);
        var refused = await client.Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("no/#").Build(), cts.Token);
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, Assert.Single(refused.Items).ResultCode);

        await client.PublishAsync("ok/1", "a", MqttQualityOfServiceLevel.AtLeastOnce);
        await client.PublishAsync("ok/1", "b", MqttQualityOfServiceLevel.AtLeastOnce); // from the cache
        var denied = await client.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("no/1").WithPayload("x")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), cts.Token);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, denied.ReasonCode);

        var received = await client.WaitForMessagesAsync(2);
        Assert.Equal(["a", "b"], received.Select(m => m.Payload));
        var publishes = hook.Requests.Where(r => HookServer.Field(r, "action") == "publish").ToList();
        Assert.Equal(2, publishes.Count); // ok/1 once (then cached), no/1 once
        Assert.Contains(hook.Requests, r => HookServer.Field(r, "action") == "subscribe" && HookServer.Field(r, "topic") == "no/#");
    }
}
