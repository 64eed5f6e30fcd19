using System.Net;
using Kirisame.Testing;
using MQTTnet.Formatter;

namespace Kirisame.Interop.Tests.Management;

/// Secure by default: where the management listener may start, and what it does with no users configured.
public sealed class ManagementStartupTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ReachableFromTheNetwork_WithoutAdminUsersOrTokens_ExitsTwo_SayingHowToFixIt()
    {
        var result = await KirisameProcess.RunToCompletionAsync(["--port", "0", "--in-memory", "--Management:BindAddress", "0.0.0.0"], s_timeout);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("management API (http://0.0.0.0:8081) is reachable from the network but no admin users or API tokens are configured", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("kirisame token FILE NAME ROLE", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Management:Roles:bob", "root", "Management:Roles:bob must be administrator, monitoring or viewer (was 'root').")]
    [InlineData("--Management:Port", "70000", "Management:Port must be between 0 and 65535")]
    [InlineData("--Management:TokenFile", "/nonexistent/tokens", "Management:TokenFile: '/nonexistent/tokens' does not exist")]
    [InlineData("--Management:Colour", "blue", "Unknown option Management:Colour")]
    [InlineData("--Telemetry:OtlpEndpoint", "localhost:4317", "Telemetry:OtlpEndpoint must be an http:// or https:// URL")]
    public async Task ABadManagementSetting_ExitsTwo_NamingTheKey(string key, string value, string message)
    {
        var result = await KirisameProcess.RunToCompletionAsync(["--port", "0", "--in-memory", key, value], s_timeout);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheManagementListener_OnTheMqttListenersPort_ExitsTwo()
    {
        var result = await KirisameProcess.RunToCompletionAsync(["--port", "18099", "--in-memory", "--management-port", "18099"], s_timeout);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("Transport and Management both listen on 127.0.0.1:18099", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ATokenFileThatDoesNotParse_ExitsTwo_NamingTheLine()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, "# tokens\nci:superuser:00\n");
            var result = await KirisameProcess.RunToCompletionAsync(["--port", "0", "--in-memory", "--Management:Port", "0", "--Management:TokenFile", file], s_timeout);

            Assert.True(result.ExitCode == 2, result.ToString());
            Assert.Contains("Management:TokenFile", result.Stderr, StringComparison.Ordinal);
            Assert.Contains("line 2 (token 'ci'): role must be administrator, monitoring or viewer", result.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task OnLoopbackWithNoUsers_TheApiIsOpen_AsAnAdministrator_ButOnlyToLoopbackHostNames()
    {
        await using var broker = await ManagedBroker.StartAsync(withCredentials: false);
        var id = Unique.ClientId("open");
        await using var client = await MqttNetClient.ConnectAsync(broker.MqttPort, MqttProtocolVersion.V500, id);

        Assert.Equal(HttpStatusCode.NoContent, (await broker.SendAsync(HttpMethod.Post, $"/api/v1/clients/{id}/disconnect", caller: Caller.Nobody)).Status);
        await Poll.WithTimeout(client.Disconnected, MqttNetClient.Timeout, "the kicked client's DISCONNECT");

        // A web page's own host name pointed at 127.0.0.1 (DNS rebinding) is not answered.
        using var rebound = new HttpRequestMessage(HttpMethod.Get, "/api/v1/overview");
        rebound.Headers.Host = "attacker.example";
        using var response = await broker.Client(Caller.Nobody).SendAsync(rebound);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        using var local = new HttpRequestMessage(HttpMethod.Get, "/api/v1/overview");
        local.Headers.Host = $"localhost:{broker.ManagementPort}";
        using var allowed = await broker.Client(Caller.Nobody).SendAsync(local);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }

    [Fact]
    public async Task TokenCommand_MakesReplacesAndDeletesTokens()
    {
        var file = Path.Combine(Path.GetTempPath(), "kirisame-tokens-" + Guid.NewGuid().ToString("N"));
        try
        {
            var first = await ManagementCredentials.MakeTokenAsync(file, "ci", "viewer");
            var second = await ManagementCredentials.MakeTokenAsync(file, "ci", "monitoring");
            var text = await File.ReadAllTextAsync(file);

            Assert.NotEqual(first, second);
            Assert.Matches("^ci:monitoring:[0-9a-f]{64}\n$", text); // replaced, and the token itself is not stored
            if (!OperatingSystem.IsWindows())
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            var badRole = await KirisameProcess.RunToCompletionAsync(["token", file, "x", "root"], s_timeout);
            Assert.Equal(2, badRole.ExitCode);
            Assert.Equal(0, (await KirisameProcess.RunToCompletionAsync(["token", "-D", file, "ci"], s_timeout)).ExitCode);
            Assert.Equal("", await File.ReadAllTextAsync(file));
            var missing = await KirisameProcess.RunToCompletionAsync(["token", "-D", file, "ci"], s_timeout);
            Assert.Equal(1, missing.ExitCode);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
