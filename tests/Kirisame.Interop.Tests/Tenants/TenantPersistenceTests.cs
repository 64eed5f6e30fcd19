using System.Diagnostics;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Tenants;

/// A tenant's persistent sessions and retained messages survive a restart (docs/adr/0021-tenants.md): each tenant has a
/// RocksDB store of its own in `tenants/NAME` under the data folder, with the default store's durability (sync: a PUBACK
/// follows the commit, so what was acknowledged survives SIGKILL). A removed tenant's folder goes after the grace period.
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
