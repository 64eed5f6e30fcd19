using System.Net;
using System.Text.Json;
using Kirisame.Interop.Tests.Management;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Tenants;

/// Tenants added, changed and removed while the server runs (issue 18, item 1): through /api/v1/tenants and through
/// the tenants file. Removing a tenant disconnects its clients (0x98) and refuses new ones; its state is kept for
/// Tenants:RemovalGrace, then deleted.
public sealed class TenantAdministrationTests : IDisposable
{
    private readonly TenantFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static Task<MqttNetClient> TryConnectAsync(int port, string user, string password, string? clientId = null) =>
        MqttNetClient.TryConnectAsync(port, MqttProtocolVersion.V500, clientId, o => o.WithCredentials(user, password));

    private static async Task<MqttNetClient> ConnectAsync(int port, string user, string password)
    {
        var client = await TryConnectAsync(port, user, password);
        Assert.True(client.ConnectResult!.ResultCode == MqttClientConnectResultCode.Success, $"{user}: {client.ConnectResult.ResultCode} {client.ConnectResult.ReasonString}");
        return client;
    }

    /// Connects until the CONNACK says <paramref name="expected"/> (a file change is noticed within a second).
    private static async Task<MqttClientConnectResultCode> ConnectUntilAsync(int port, string user, string password, MqttClientConnectResultCode expected)
    {
        var deadline = DateTime.UtcNow + MqttNetClient.Timeout;
        MqttClientConnectResultCode code;
        do
        {
            await using var client = await TryConnectAsync(port, user, password);
            code = client.ConnectResult!.ResultCode;
            if (code != expected)
                await Task.Delay(100); // polling the file check, which runs once a second
        }
        while (code != expected && DateTime.UtcNow < deadline);
        return code;
    }

    private static JsonElement Tenant(JsonElement list, string name) => list.EnumerateArray().Single(t => t.GetProperty("name").GetString() == name);

    [Fact]
    public async Task Api_AddsChangesAndRemovesTenants_AdministratorOnly_StateKeptForTheGracePeriod()
    {
        var passwords = await _files.PasswordFileAsync("live.passwd", ("u", "live-secret"));
        await using var broker = await ManagedBroker.StartAsync(withCredentials: true, "--Tenants:Enabled", "true", "--Tenants:RemovalGrace", "00:00:03");
        var port = broker.MqttPort;

        // Anyone with access lists them (the default tenant first); only an administrator changes them.
        var listed = await broker.GetJsonAsync("/api/v1/tenants", Caller.Viewer);
        Assert.Equal("default", listed[0].GetProperty("name").GetString());
        var request = new { name = "live", passwordFile = passwords, quotas = new { maxConnections = 1 } };
        ProblemAssert.Is(HttpStatusCode.Forbidden, await broker.SendAsync(HttpMethod.Post, "/api/v1/tenants", request, Caller.Viewer));
        Assert.Equal(HttpStatusCode.Created, (await broker.SendAsync(HttpMethod.Post, "/api/v1/tenants", request)).Status);
        ProblemAssert.Is((HttpStatusCode)422, await broker.SendAsync(HttpMethod.Post, "/api/v1/tenants", new { name = "bad", passwordFile = "/nonexistent" }), "does not exist");

        // Its users, and the quota the API gave it.
        await using var first = await ConnectAsync(port, "live:u", "live-secret");
        await first.PublishAsync("kept", "retained-in-live", MqttQualityOfServiceLevel.AtLeastOnce, retain: true);
        await using (var second = await TryConnectAsync(port, "live:u", "live-secret"))
            Assert.Equal(MqttClientConnectResultCode.QuotaExceeded, second.ConnectResult!.ResultCode);
        ProblemAssert.Is(HttpStatusCode.Forbidden, await broker.SendAsync(HttpMethod.Put, "/api/v1/tenants/live/quotas", new { maxConnections = 2 }, Caller.Viewer));
        Assert.Equal(HttpStatusCode.NoContent, (await broker.SendAsync(HttpMethod.Put, "/api/v1/tenants/live/quotas", new { maxConnections = 2 })).Status);
        await using var second2 = await ConnectAsync(port, "live:u", "live-secret");
        var live = Tenant(await broker.GetJsonAsync("/api/v1/tenants"), "live");
        Assert.Equal(2, live.GetProperty("connected").GetInt64());
        Assert.Equal(1, live.GetProperty("retainedMessages").GetInt32());
        Assert.Equal(2, live.GetProperty("quotas").GetProperty("maxConnections").GetInt32());

        // Removed: its clients are disconnected with 0x98 and new ones refused.
        ProblemAssert.Is(HttpStatusCode.Forbidden, await broker.SendAsync(HttpMethod.Delete, "/api/v1/tenants/live", caller: Caller.Viewer));
        Assert.Equal(HttpStatusCode.NoContent, (await broker.SendAsync(HttpMethod.Delete, "/api/v1/tenants/live")).Status);
        var kicked = await Poll.WithTimeout(first.Disconnected, MqttNetClient.Timeout, "the removed tenant's DISCONNECT");
        Assert.Equal(MqttClientDisconnectReason.AdministrativeAction, kicked.Reason);
        await using (var refused = await TryConnectAsync(port, "live:u", "live-secret"))
            Assert.Equal(MqttClientConnectResultCode.NotAuthorized, refused.ConnectResult!.ResultCode);
        ProblemAssert.Is(HttpStatusCode.NotFound, await broker.SendAsync(HttpMethod.Delete, "/api/v1/tenants/live"), "live");

        // Added again within the grace period: its state is back.
        Assert.Equal(HttpStatusCode.Created, (await broker.SendAsync(HttpMethod.Post, "/api/v1/tenants", request)).Status);
        await using (var reader = await ConnectAsync(port, "live:u", "live-secret"))
        {
            await reader.SubscribeAsync("kept", MqttQualityOfServiceLevel.AtLeastOnce);
            Assert.Equal("retained-in-live", Assert.Single(await reader.WaitForMessagesAsync(1)).Payload);
        }

        // Removed and left alone past the grace period: its state is deleted, and a tenant of that name starts empty.
        Assert.Equal(HttpStatusCode.NoContent, (await broker.SendAsync(HttpMethod.Delete, "/api/v1/tenants/live")).Status);
        Assert.NotNull(await broker.Server.Process.WaitForLineAsync(l => l.Contains("Tenant live: state deleted", StringComparison.Ordinal), MqttNetClient.Timeout));
        Assert.Equal(HttpStatusCode.Created, (await broker.SendAsync(HttpMethod.Post, "/api/v1/tenants", request)).Status);
        await using var fresh = await ConnectAsync(port, "live:u", "live-secret");
        await fresh.SubscribeAsync("kept", MqttQualityOfServiceLevel.AtLeastOnce);
        await fresh.PingAsync();
        Assert.Empty(fresh.Messages);
    }

    [Fact]
    public async Task TenantsFile_TenantsComeAndGoWhenItChanges_ABrokenFileKeepsThoseInForce()
    {
        var a = await _files.PasswordFileAsync("a.passwd", ("u", "secret-a"));
        var c = await _files.PasswordFileAsync("c.passwd", ("u", "secret-c"));
        _files.WriteTenants(new Dictionary<string, object> { ["a"] = new { PasswordFile = a } });
        await using var server = await KirisameProcess.StartAsync(["--Tenants:File", _files.TenantsFile, "--Security:FailedLoginDelay", "00:00:00.1"]);
        var port = server.Port;
        await using var inA = await ConnectAsync(port, "a:u", "secret-a");
        await using (var early = await TryConnectAsync(port, "c:u", "secret-c"))
            Assert.Equal(MqttClientConnectResultCode.NotAuthorized, early.ConnectResult!.ResultCode);

        // Added to the file: served within a second or so, without a restart.
        _files.WriteTenants(new Dictionary<string, object> { ["a"] = new { PasswordFile = a }, ["c"] = new { PasswordFile = c } });
        Assert.Equal(MqttClientConnectResultCode.Success, await ConnectUntilAsync(port, "c:u", "secret-c", MqttClientConnectResultCode.Success));

        // Left out of the file: removed, its clients disconnected.
        _files.WriteTenants(new Dictionary<string, object> { ["c"] = new { PasswordFile = c } });
        var kicked = await Poll.WithTimeout(inA.Disconnected, MqttNetClient.Timeout, "the removed tenant's DISCONNECT");
        Assert.Equal(MqttClientDisconnectReason.AdministrativeAction, kicked.Reason);
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await ConnectUntilAsync(port, "a:u", "secret-a", MqttClientConnectResultCode.NotAuthorized));

        // A file that does not parse changes nothing, and says why; SIGHUP re-reads it as a change would.
        File.WriteAllText(_files.TenantsFile, "{ \"Tenants\": { \"c\": { \"PasswordFile\": ");
        Assert.NotNull(await server.Process.WaitForLineAsync(l => l.Contains("cannot be used", StringComparison.Ordinal) && l.Contains("tenants.json", StringComparison.Ordinal),
            MqttNetClient.Timeout));
        await using (var still = await ConnectAsync(port, "c:u", "secret-c"))
            Assert.True(still.Client.IsConnected);
        _files.WriteTenants(new Dictionary<string, object> { ["c"] = new { PasswordFile = c, Quotas = new { MaxConnections = 0 } } });
        Assert.Equal(0, (await Tools.RunAsync("kill", ["-HUP", server.Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], MqttNetClient.Timeout)).ExitCode);
        Assert.Equal(MqttClientConnectResultCode.QuotaExceeded, await ConnectUntilAsync(port, "c:u", "secret-c", MqttClientConnectResultCode.QuotaExceeded));
    }

    [Fact]
    public async Task TenantsFile_ThatCannotBeUsed_StopsTheStartWithTheReason()
    {
        _files.WriteTenants(new Dictionary<string, object> { ["a"] = new { PasswordFile = "missing.passwd" } });
        var result = await KirisameProcess.RunToCompletionAsync(["serve", "--in-memory", "--port", "0", "--Tenants:File", _files.TenantsFile], TimeSpan.FromSeconds(60));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Tenants:File", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("tenant 'a': PasswordFile 'missing.passwd' does not exist", result.Stderr, StringComparison.Ordinal);

        _files.WriteTenants(new Dictionary<string, object> { ["a"] = new { Quotas = new { MaxConections = 3 } } });
        result = await KirisameProcess.RunToCompletionAsync(["serve", "--in-memory", "--port", "0", "--Tenants:File", _files.TenantsFile], TimeSpan.FromSeconds(60));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("MaxConections", result.Stderr, StringComparison.Ordinal);
    }
}
