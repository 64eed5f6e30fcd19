using Kirisame.Testing;
using static Kirisame.Interop.Tests.MqttSn.SnTestClient;

namespace Kirisame.Interop.Tests.MqttSn;

/// MqttSn:Tenant serves the gateway's clients in one tenant (docs/adr/0021): what they publish, with a connection or
/// at QoS −1, reaches that tenant's subscribers and not the default tenant's.
public sealed class MqttSnTenantTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("kirisame-sn-tenant-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task GatewayInATenant_PublishesIntoThatTenantOnly()
    {
        var tenants = Path.Combine(_directory, "tenants.json");
        await File.WriteAllTextAsync(tenants, """{ "Tenants": { "acme": { "AllowAnonymous": true } } }""");
        await using var gateway = await SnGateway.StartAsync("--Tenants:File", tenants, "--MqttSn:Tenant", "acme");
        await using var inAcme = MosquittoClients.StartSubscriber(gateway.Port, "sn/#", 1, "mqttv311", "-u", "acme:watcher");
        await using var inDefault = MosquittoClients.StartSubscriber(gateway.Port, "sn/#", 1);
        await MosquittoClients.WaitUntilSubscribedAsync(inAcme);
        await MosquittoClients.WaitUntilSubscribedAsync(inDefault);

        using var client = gateway.Client();
        Assert.Equal(0, await client.ConnectAsync("sn-tenant"));
        var topicId = await client.RegisterAsync("sn/reading");
        Assert.Equal(0, await client.PublishAsync(topicId, "in acme", 1));
        using var sensor = gateway.Client();
        await sensor.PublishAsync(('s' << 8) | 'n', "qos -1 in acme", -1, Short);
        Assert.NotNull(await inAcme.WaitForLineAsync(l => l == "sn/reading in acme", MosquittoClients.DefaultTimeout));

        // The default tenant's subscriber gets its own tenant's message, and none of the gateway's before it.
        Assert.Equal(0, (await MosquittoClients.PublishAsync(gateway.Port, "sn/marker", "default's own", qos: 1)).ExitCode);
        Assert.NotNull(await inDefault.WaitForLineAsync(l => l == "sn/marker default's own", MosquittoClients.DefaultTimeout));
        Assert.DoesNotContain("in acme", inDefault.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tenant_WithoutTenantsEnabled_ExitsWith2NamingTheKey()
    {
        var result = await KirisameProcess.RunToCompletionAsync(["serve", "--in-memory", "--port", "0", "--MqttSn:Enabled", "true",
            "--MqttSn:Port", "0", "--MqttSn:Tenant", "acme"], TimeSpan.FromSeconds(30));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("MqttSn:Tenant: tenants are not enabled", result.Stderr, StringComparison.Ordinal);
    }
}
