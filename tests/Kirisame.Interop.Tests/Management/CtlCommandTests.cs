using System.Text.Json;
using Kirisame.Testing;
using MQTTnet.Formatter;

namespace Kirisame.Interop.Tests.Management;

/// `kirisame ctl` end to end: the real command against the real server, with MQTTnet clients.
public sealed class CtlCommandTests(ManagementFixture fixture) : IClassFixture<ManagementFixture>
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    private ManagedBroker Broker => fixture.Broker;

    private Task<ToolResult> CtlAsync(string[] arguments, IReadOnlyDictionary<string, string?>? environment = null) =>
        KirisameProcess.RunToCompletionAsync(["ctl", "--url", Broker.BaseUrl, .. arguments], s_timeout, environment);

    private Task<ToolResult> AdminCtlAsync(params string[] arguments) => CtlAsync(["--token", Broker.Credentials!.AdminToken, .. arguments]);

    [Fact]
    public async Task ListsAClientConnectedWithMqttNet_KicksIt_AndItIsGone()
    {
        var id = Unique.ClientId("ctl");
        await using var client = await MqttNetClient.ConnectAsync(Broker.MqttPort, MqttProtocolVersion.V500, id);

        var listed = await AdminCtlAsync("clients", "--id", id);
        Assert.True(listed.ExitCode == 0, listed.ToString());
        var lines = listed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("CLIENT ID", lines[0], StringComparison.Ordinal);
        Assert.StartsWith(id, Assert.Single(lines[1..]), StringComparison.Ordinal);
        Assert.Contains("tcp", lines[1], StringComparison.Ordinal);

        var kicked = await AdminCtlAsync("clients", "kick", id);
        Assert.True(kicked.ExitCode == 0, kicked.ToString());
        Assert.Equal("disconnected", kicked.Stdout.Trim());

        await Poll.WithTimeout(client.Disconnected, MqttNetClient.Timeout, "the kicked client's DISCONNECT");
        var gone = false;
        for (var deadline = DateTime.UtcNow + s_timeout; !gone && DateTime.UtcNow < deadline;)
        {
            var json = await AdminCtlAsync("clients", "--id", id, "--json");
            Assert.True(json.ExitCode == 0, json.ToString());
            gone = JsonDocument.Parse(json.Stdout).RootElement.GetProperty("total").GetInt32() == 0;
        }

        Assert.True(gone, $"{id} was still listed after the kick (its session ends with its connection)");
    }

    [Fact]
    public async Task ListenersAddAndStop_OpenAndCloseAPort()
    {
        var name = "ctl-" + Kirisame.Testing.FreePort.GetLoopbackPort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var port = Kirisame.Testing.FreePort.GetLoopbackPort();
        var added = await AdminCtlAsync("listeners", "add", name, port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(added.ExitCode == 0, added.ToString());
        var listed = await AdminCtlAsync("listeners");
        Assert.Contains($"127.0.0.1:{port}", listed.Stdout, StringComparison.Ordinal);
        var published = await MosquittoClients.PublishAsync(port, Unique.Topic("ctl-listener"), "hello");
        Assert.True(published.ExitCode == 0, published.ToString());

        var stopped = await AdminCtlAsync("listeners", "stop", name);
        Assert.True(stopped.ExitCode == 0, stopped.ToString());
        Assert.NotEqual(0, (await MosquittoClients.PublishAsync(port, Unique.Topic("ctl-listener"), "refused")).ExitCode);
        var again = await AdminCtlAsync("listeners", "stop", name);
        Assert.Equal(1, again.ExitCode); // the problem (no such listener) is printed
        Assert.Contains(name, again.Stderr + again.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AViewer_CannotKick_ExitFour_AndTheClientStays()
    {
        var id = Unique.ClientId("ctl-viewer");
        await using var client = await MqttNetClient.ConnectAsync(Broker.MqttPort, MqttProtocolVersion.V500, id);

        var result = await CtlAsync(["--user", "viewer", "clients", "kick", id],
            new Dictionary<string, string?> { ["KIRISAME_PASSWORD"] = ManagementCredentials.Passwords["viewer"] });

        Assert.True(result.ExitCode == 4, result.ToString());
        Assert.Contains("403 Forbidden: This needs the administrator role", result.Stderr, StringComparison.Ordinal);
        await client.PingAsync();
        Assert.True(client.Client.IsConnected);
    }

    [Fact]
    public async Task Status_Sessions_Subscriptions_Retained_AndPublish()
    {
        var id = Unique.ClientId("ctl-session");
        var topic = Unique.Topic("ctl");
        await using var client = await MqttNetClient.ConnectAsync(Broker.MqttPort, MqttProtocolVersion.V500, id);

        var status = await AdminCtlAsync("status", "--json");
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.True(JsonDocument.Parse(status.Stdout).RootElement.TryGetProperty("uptimeSeconds", out _));
        var plainStatus = await AdminCtlAsync("status");
        Assert.Contains($"tcp mqtt://127.0.0.1:{Broker.MqttPort}", plainStatus.Stdout, StringComparison.Ordinal);

        Assert.Equal(0, (await AdminCtlAsync("subscriptions", "add", id, topic, "--qos", "1")).ExitCode);
        var subscriptions = await AdminCtlAsync("subscriptions", "--client", id);
        Assert.Contains(topic, subscriptions.Stdout, StringComparison.Ordinal);
        var published = await AdminCtlAsync("publish", topic, "from ctl", "--qos", "1", "--retain");
        Assert.True(published.ExitCode == 0, published.ToString());
        Assert.Equal("from ctl", Assert.Single(await client.WaitForMessagesAsync(1)).Payload);

        var sessions = await AdminCtlAsync("sessions", "--id", id);
        Assert.Contains(id, sessions.Stdout, StringComparison.Ordinal);
        var retained = await AdminCtlAsync("retained", "--filter", topic);
        Assert.Contains(topic, retained.Stdout, StringComparison.Ordinal);
        var shown = await AdminCtlAsync("retained", "show", topic);
        Assert.Contains("payload: from ctl", shown.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, (await AdminCtlAsync("retained", "delete", topic)).ExitCode);
        Assert.Equal(1, (await AdminCtlAsync("retained", "show", topic)).ExitCode);
        Assert.Equal(0, (await AdminCtlAsync("subscriptions", "remove", id, topic)).ExitCode);
        Assert.DoesNotContain(topic, (await AdminCtlAsync("subscriptions", "--client", id)).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Failures_HaveTheirOwnExitCodes_AndSayWhat()
    {
        var missing = await AdminCtlAsync("clients", "kick", Unique.ClientId("nobody"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("404 Not found: The broker holds no session for client", missing.Stderr, StringComparison.Ordinal);

        var unauthenticated = await CtlAsync(["clients"]);
        Assert.Equal(4, unauthenticated.ExitCode);
        Assert.Contains("401", unauthenticated.Stderr, StringComparison.Ordinal);

        var unreachable = await KirisameProcess.RunToCompletionAsync(["ctl", "--url", $"http://127.0.0.1:{FreePort.GetLoopbackPort()}", "status"], s_timeout);
        Assert.Equal(3, unreachable.ExitCode);
        Assert.Contains("cannot reach the management API", unreachable.Stderr, StringComparison.Ordinal);

        foreach (var bad in new[] { new[] { "clients", "frobnicate" }, ["clients", "--limit", "many"], ["status", "--colour"], ["sessions", "show"] })
        {
            var usage = await AdminCtlAsync(bad);
            Assert.True(usage.ExitCode == 2, usage.ToString());
            Assert.Contains("kirisame ctl --help", usage.Stderr, StringComparison.Ordinal);
        }
    }
}
