using System.Diagnostics;
using System.Net;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Tenants;

/// A tenant's persistent sessions and retained messages survive a restart (docs/adr/0021-tenants.md): each tenant has a
/// RocksDB store of its own in `tenants/NAME` under the data folder, with the default store's durability (sync: a PUBACK
/// follows the commit, so what was acknowledged survives SIGKILL). A removed tenant's folder goes after the grace period.
/// Tenants added through the management API are kept in the data folder (tenants.api.json) and added again at start.
public sealed class TenantPersistenceTests : IDisposable
{
    private readonly TenantFiles _files = new();
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "kirisame-tenant-data-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        _files.Dispose();
        if (Directory.Exists(_dataDir))
            Directory.Delete(_dataDir, recursive: true);
    }

    private Task<KirisameProcess> StartAsync() =>
        KirisameProcess.StartAsync(["--data-dir", _dataDir, "--Tenants:File", _files.TenantsFile, "--Tenants:RemovalGrace", "00:00:02"]);

    private static Task<MqttNetClient> ConnectAsync(int port, string user, string password, string clientId, bool cleanStart = true) =>
        MqttNetClient.ConnectAsync(port, MqttProtocolVersion.V500, clientId,
            o => o.WithCredentials(user, password).WithCleanStart(cleanStart).WithSessionExpiryInterval(cleanStart ? 0u : 3600u));

    [Fact]
    public async Task ATenantsSessionQueueAndRetained_SurviveSigkill_StayIsolated_AndARemovedTenantsFolderGoes()
    {
        var a = await _files.PasswordFileAsync("a.passwd", ("u", "secret-a"));
        var b = await _files.PasswordFileAsync("b.passwd", ("u", "secret-b"));
        _files.WriteTenants(new Dictionary<string, object> { ["a"] = new { PasswordFile = a }, ["b"] = new { PasswordFile = b } });
        var subscriber = Unique.ClientId("a-sub");
        await using (var server = await StartAsync())
        {
            // Tenant a: a persistent session (clean start false, expiry an hour) subscribed at QoS 1, then away.
            await using (var away = await ConnectAsync(server.Port, "a:u", "secret-a", subscriber, cleanStart: false))
                await away.SubscribeAsync("orders/#", MqttQualityOfServiceLevel.AtLeastOnce);

            await using var publisher = await ConnectAsync(server.Port, "a:u", "secret-a", Unique.ClientId("a-pub"));
            await publisher.PublishAsync("config/a", "retained-in-a", MqttQualityOfServiceLevel.AtLeastOnce, retain: true);
            for (var i = 1; i <= 3; i++)
                await publisher.PublishAsync("orders/" + i, "order-" + i, MqttQualityOfServiceLevel.AtLeastOnce); // each PUBACK after its commit
            Assert.True(Directory.Exists(Path.Combine(_dataDir, "tenants", "a", ".")), "tenant a's store folder");

            // Killed, not stopped: only what the store committed before each PUBACK can come back.
            Process.GetProcessById(server.Process.Id).Kill();
            Assert.True(await server.Process.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        }

        await using (var server = await StartAsync())
        {
            // The offline messages queued before the restart arrive, and the session still has its subscription.
            await using var back = await ConnectAsync(server.Port, "a:u", "secret-a", subscriber, cleanStart: false);
            Assert.True(back.ConnectResult!.IsSessionPresent, "tenant a's session is present after the restart");
            var queued = await back.WaitForMessagesAsync(3);
            Assert.Equal(["order-1", "order-2", "order-3"], queued.Select(m => m.Payload).ToArray());

            // The retained message is back in tenant a.
            await using var reader = await ConnectAsync(server.Port, "a:u", "secret-a", Unique.ClientId("a-reader"));
            await reader.SubscribeAsync("config/#", MqttQualityOfServiceLevel.AtLeastOnce);
            Assert.Equal("retained-in-a", Assert.Single(await reader.WaitForMessagesAsync(1)).Payload);

            // Tenant b sees none of it, not with '#'.
            await using var inB = await ConnectAsync(server.Port, "b:u", "secret-b", Unique.ClientId("b-reader"));
            await inB.SubscribeAsync("#", MqttQualityOfServiceLevel.AtLeastOnce);
            await inB.PingAsync();
            Assert.Empty(inB.Messages);

            // Tenant a left out of the file: removed; its folder is deleted once the grace period (2 s) is over.
            _files.WriteTenants(new Dictionary<string, object> { ["b"] = new { PasswordFile = b } });
            var folder = Path.Combine(_dataDir, "tenants", "a");
            Assert.True(await Poll.UntilAsync(() => !Directory.Exists(folder), TimeSpan.FromSeconds(30)), $"{folder} still exists\n{server.Describe()}");
            Assert.True(Directory.Exists(Path.Combine(_dataDir, "tenants", "b")), "tenant b's folder is kept");
        }
    }

    [Fact]
    public async Task ATenantAddedThroughTheApi_SurvivesSigkill_WithItsRetainedMessageAndQuotas_AndOneRemovedThroughTheApiDoesNotComeBack()
    {
        var passwords = await _files.PasswordFileAsync("kept.passwd", ("u", "secret-k"));
        string[] arguments = ["--data-dir", _dataDir, "--Tenants:Enabled", "true"];
        await using (var broker = await Management.ManagedBroker.StartAsync(withCredentials: true, arguments))
        {
            Assert.Equal(HttpStatusCode.Created, (await broker.SendAsync(HttpMethod.Post, "/api/v1/tenants", new { name = "kept", passwordFile = passwords })).Status);
            Assert.Equal(HttpStatusCode.Created, (await broker.SendAsync(HttpMethod.Post, "/api/v1/tenants", new { name = "gone", allowAnonymous = true })).Status);
            Assert.Equal(HttpStatusCode.NoContent, (await broker.SendAsync(HttpMethod.Put, "/api/v1/tenants/kept/quotas", new { maxConnections = 7 })).Status);
            Assert.Equal(HttpStatusCode.NoContent, (await broker.SendAsync(HttpMethod.Delete, "/api/v1/tenants/gone")).Status);
            await using (var publisher = await ConnectAsync(broker.MqttPort, "kept:u", "secret-k", Unique.ClientId("kept-pub")))
                await publisher.PublishAsync("config/kept", "retained-in-kept", MqttQualityOfServiceLevel.AtLeastOnce, retain: true); // PUBACK after the commit

            // Killed, not stopped: the API's tenants are on disk already.
            Process.GetProcessById(broker.Server.Process.Id).Kill();
            Assert.True(await broker.Server.Process.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        }

        await using (var broker = await Management.ManagedBroker.StartAsync(withCredentials: true, arguments))
        {
            var tenants = (await broker.GetJsonAsync("/api/v1/tenants")).EnumerateArray().ToList();
            Assert.Equal(["default", "kept"], tenants.Select(t => t.GetProperty("name").GetString()));
            Assert.Equal(7, tenants[1].GetProperty("quotas").GetProperty("maxConnections").GetInt32());
            Management.ProblemAssert.Is(HttpStatusCode.NotFound, await broker.SendAsync(HttpMethod.Get, "/api/v1/tenants/gone"), "No tenant 'gone'");

            await using var reader = await ConnectAsync(broker.MqttPort, "kept:u", "secret-k", Unique.ClientId("kept-reader"));
            await reader.SubscribeAsync("config/#", MqttQualityOfServiceLevel.AtLeastOnce);
            Assert.Equal("retained-in-kept", Assert.Single(await reader.WaitForMessagesAsync(1)).Payload);
        }
    }

    [Fact]
    public async Task ATenantBothTheTenantsFileAndTheApiDefine_IsTheTenantsFiles_AndTheApisIsLoggedAndIgnored()
    {
        _files.WriteTenants(new Dictionary<string, object>());
        string[] arguments = ["--data-dir", _dataDir, "--Tenants:File", _files.TenantsFile];
        await using (var broker = await Management.ManagedBroker.StartAsync(withCredentials: true, arguments))
        {
            var added = await broker.SendAsync(HttpMethod.Post, "/api/v1/tenants", new { name = "both", allowAnonymous = true, quotas = new { maxConnections = 3 } });
            Assert.Equal(HttpStatusCode.Created, added.Status);
        }

        // The operator writes the same tenant into the tenants file while the server is stopped.
        _files.WriteTenants(new Dictionary<string, object> { ["both"] = new { AllowAnonymous = true, Quotas = new { MaxConnections = 9 } } });
        await using (var broker = await Management.ManagedBroker.StartAsync(withCredentials: true, arguments))
        {
            var both = await broker.GetJsonAsync("/api/v1/tenants/both");
            Assert.Equal(9, both.GetProperty("quotas").GetProperty("maxConnections").GetInt32());
            var logged = await broker.Server.Process.WaitForLineAsync(l => l.Contains("ignored: the tenants file", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
            Assert.True(logged is not null, broker.Server.Describe());
            Assert.Contains("both", logged, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task TheApisTenantsFile_ThatDoesNotParse_StopsTheStart_NamingIt()
    {
        // A data folder the server made (it refuses a folder that is not empty and holds no store of its own).
        await (await KirisameProcess.StartAsync(["--data-dir", _dataDir, "--Tenants:Enabled", "true"])).DisposeAsync();
        var file = Path.Combine(_dataDir, "tenants.api.json");
        await File.WriteAllTextAsync(file, "{ \"Tenants\": { \"x\": ");
        var result = await KirisameProcess.RunToCompletionAsync(["serve", "--data-dir", _dataDir, "--port", "0", "--Tenants:Enabled", "true"],
            TimeSpan.FromSeconds(60));
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(file, result.Stderr, StringComparison.Ordinal);
        Assert.Contains("not a valid tenants file", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ATenantNameThatCouldLeaveTheTenantsFolder_IsRefused_InTheFileAndThroughTheApi()
    {
        // ".." would be the data folder itself; the name names a folder that is deleted after a removal.
        _files.WriteTenants(new Dictionary<string, object> { [".."] = new { AllowAnonymous = true } });
        var result = await KirisameProcess.RunToCompletionAsync(["serve", "--data-dir", _dataDir, "--port", "0", "--Tenants:File", _files.TenantsFile],
            TimeSpan.FromSeconds(60));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("tenant name '..' must not begin with '.'", result.Stderr, StringComparison.Ordinal);

        await using var broker = await Management.ManagedBroker.StartAsync(withCredentials: true, "--data-dir", _dataDir, "--Tenants:Enabled", "true");
        foreach (var name in new[] { "..", ".hidden", "a/b" })
            Management.ProblemAssert.Is((System.Net.HttpStatusCode)422, await broker.SendAsync(HttpMethod.Post, "/api/v1/tenants", new { name }), "tenant name");
        Assert.False(Directory.Exists(Path.Combine(_dataDir, "tenants", ".hidden")));
    }
}
