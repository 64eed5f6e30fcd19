using System.Net;
using System.Text.Json;
using Kirisame.Interop.Tests.Tenants;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Management;

/// The management API and `kirisame ctl` per tenant (docs/adr/0021-tenants.md): the clients, sessions, subscriptions,
/// retained and topics pages, the overview, and their actions take ?tenant=NAME (the default tenant without it; 404 naming a tenant
/// that does not exist); the bans list has every tenant's bans; `ctl tenants`, and `--tenant` on ctl's commands.
public sealed class TenantManagementTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);
    private readonly TenantFiles _files = new();

    public void Dispose() => _files.Dispose();

    /// A server with tenant "acme" (user u, at most 5 connections); failed logins ban after two.
    private async Task<ManagedBroker> StartAsync()
    {
        var passwords = await _files.PasswordFileAsync("acme.passwd", ("u", "acme-secret"));
        _files.WriteTenants(new Dictionary<string, object> { ["acme"] = new { PasswordFile = passwords, Quotas = new { MaxConnections = 5 } } });
        return await ManagedBroker.StartAsync(withCredentials: true, "--Tenants:File", _files.TenantsFile,
            "--Security:MaxFailedLogins", "2", "--Security:FailedLoginDelay", "00:00:00.05");
    }

    private static Task<MqttNetClient> ConnectToAcmeAsync(int port, string clientId) =>
        MqttNetClient.ConnectAsync(port, MqttProtocolVersion.V500, clientId,
            o => o.WithCredentials("acme:u", "acme-secret").WithCleanStart(false).WithSessionExpiryInterval(3600));

    private static IEnumerable<string> Items(JsonElement page, string property) =>
        page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty(property).GetString()!);

    [Fact]
    public async Task Publish_WithATenant_ReachesThatTenantsSubscribersOnly()
    {
        await using var broker = await StartAsync();
        var topic = Unique.Topic("api-publish");
        await using var inAcme = await ConnectToAcmeAsync(broker.MqttPort, Unique.ClientId("acme"));
        await using var inDefault = await MqttNetClient.ConnectAsync(broker.MqttPort, MqttProtocolVersion.V500, Unique.ClientId("default"));
        await inAcme.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);
        await inDefault.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);

        var published = await broker.SendAsync(HttpMethod.Post, "/api/v1/publish?tenant=acme", new { topic, payload = "to acme", qos = 1 });
        Assert.Equal(HttpStatusCode.OK, published.Status);
        Assert.Equal("to acme", (await inAcme.WaitForMessagesAsync(1))[0].Payload);
        Assert.Equal(HttpStatusCode.OK, (await broker.SendAsync(HttpMethod.Post, "/api/v1/publish", new { topic, payload = "to default", qos = 1 })).Status);
        // The default tenant's subscriber gets its own message and nothing before it.
        Assert.Equal(["to default"], (await inDefault.WaitForMessagesAsync(1)).Select(m => m.Payload));
        ProblemAssert.Is(HttpStatusCode.NotFound, await broker.SendAsync(HttpMethod.Post, "/api/v1/publish?tenant=nope", new { topic, payload = "x" }), "No tenant 'nope'");
    }

    [Fact]
    public async Task Overview_WithATenant_HasThatTenantsFigures_AndAnUnknownTenantIs404()
    {
        await using var broker = await StartAsync();
        await using var client = await ConnectToAcmeAsync(broker.MqttPort, Unique.ClientId("acme-overview"));
        await client.PublishAsync("acme-overview/kept", "x", MqttQualityOfServiceLevel.AtLeastOnce, retain: true);

        JsonElement acme = default;
        Assert.True(await Poll.UntilAsync(() =>
        {
            acme = broker.GetJsonAsync("/api/v1/overview?tenant=acme").GetAwaiter().GetResult();
            return acme.GetProperty("connections").GetProperty("connected").GetInt64() == 1 && acme.GetProperty("sessions").GetInt32() == 1
                && acme.GetProperty("messages").GetProperty("received").GetInt64() == 1;
        }, s_timeout), "acme's overview: " + acme);

        // The default tenant's overview (with and without its name) has none of it.
        foreach (var path in new[] { "/api/v1/overview", "/api/v1/overview?tenant=default" })
        {
            var own = await broker.GetJsonAsync(path);
            Assert.Equal(0, own.GetProperty("connections").GetProperty("connected").GetInt64());
            Assert.Equal(0, own.GetProperty("sessions").GetInt32());
            Assert.Equal(0, own.GetProperty("messages").GetProperty("received").GetInt64());
        }

        ProblemAssert.Is(HttpStatusCode.NotFound, await broker.SendAsync(HttpMethod.Get, "/api/v1/overview?tenant=nope"), "No tenant 'nope'");
    }

    [Fact]
    public async Task Metrics_HaveEachTenantsFigures_TaggedWithTheTenant()
    {
        await using var broker = await StartAsync();
        await using var client = await ConnectToAcmeAsync(broker.MqttPort, Unique.ClientId("acme"));
        await client.PublishAsync("acme-metrics/kept", "x", MqttQualityOfServiceLevel.AtLeastOnce, retain: true);

        string? text = null;
        var seen = await Poll.UntilAsync(() =>
        {
            using var response = broker.Client(Caller.Admin).GetAsync("/metrics").GetAwaiter().GetResult();
            text = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
            return Has(text, "kirisame_tenant_clients_connected", "acme", 1) && Has(text, "kirisame_tenant_clients_connected", "default", 0)
                && Has(text, "kirisame_tenant_retained_messages", "acme", 1) && Has(text, "kirisame_tenant_messages_received_total", "acme", 1);
        }, s_timeout);
        Assert.True(seen, "the tenant's figures did not appear in /metrics:\n" + text);

        // A series of the metric with tenant="…" among its labels (the exporter adds the meter's scope) and that value.
        static bool Has(string text, string metric, string tenant, long value) =>
            System.Text.RegularExpressions.Regex.IsMatch(text, $"^{metric}{{[^}}]*tenant=\"{tenant}\"[^}}]*}} {value}$", System.Text.RegularExpressions.RegexOptions.Multiline);
    }

    [Fact]
    public async Task Pages_ShowAndActOnTheTenantTheQueryNames_AndAnUnknownTenantIs404()
    {
        await using var broker = await StartAsync();
        var id = Unique.ClientId("acme");
        var topic = "acme-only/" + id;
        await using var client = await ConnectToAcmeAsync(broker.MqttPort, id);
        await client.SubscribeAsync("acme-orders/#", MqttQualityOfServiceLevel.AtLeastOnce);
        await client.PublishAsync(topic, "kept", MqttQualityOfServiceLevel.AtLeastOnce, retain: true);

        // The tenant's pages show its client, session, subscription, retained message and topics; the default tenant's do not.
        Assert.Equal([id], Items(await broker.GetJsonAsync($"/api/v1/clients?tenant=acme&id={id}"), "clientId"));
        Assert.Empty(Items(await broker.GetJsonAsync($"/api/v1/clients?id={id}"), "clientId"));
        Assert.Empty(Items(await broker.GetJsonAsync($"/api/v1/clients?tenant=default&id={id}"), "clientId"));
        Assert.Equal([id], Items(await broker.GetJsonAsync($"/api/v1/sessions?tenant=acme&id={id}"), "clientId"));
        Assert.Equal(id, (await broker.GetJsonAsync($"/api/v1/sessions/{id}?tenant=acme")).GetProperty("clientId").GetString());
        Assert.Equal(["acme-orders/#"], Items(await broker.GetJsonAsync($"/api/v1/subscriptions?tenant=acme&clientId={id}"), "filter"));
        Assert.Equal([topic], Items(await broker.GetJsonAsync("/api/v1/retained?tenant=acme&filter=acme-only/%23"), "topic"));
        Assert.Empty(Items(await broker.GetJsonAsync("/api/v1/retained?filter=acme-only/%23"), "topic"));
        Assert.Contains("acme-only", Items(await broker.GetJsonAsync("/api/v1/topics?tenant=acme"), "level"));
        Assert.DoesNotContain("acme-only", Items(await broker.GetJsonAsync("/api/v1/topics"), "level"));

        // A tenant that does not exist: 404 with a problem that names it, on pages and actions alike.
        foreach (var (method, path) in new[] { (HttpMethod.Get, "/api/v1/clients"), (HttpMethod.Get, "/api/v1/retained"), (HttpMethod.Get, "/api/v1/topics"),
            (HttpMethod.Get, "/api/v1/subscriptions"), (HttpMethod.Post, $"/api/v1/clients/{id}/disconnect"), (HttpMethod.Delete, $"/api/v1/sessions/{id}") })
            ProblemAssert.Is(HttpStatusCode.NotFound, await broker.SendAsync(method, path + "?tenant=nope"), "No tenant 'nope'");

        // Actions in the tenant: the retained message deleted, the client kicked (0x98), its session ended.
        Assert.Equal(HttpStatusCode.NoContent, (await broker.SendAsync(HttpMethod.Delete, $"/api/v1/retained/message?topic={Uri.EscapeDataString(topic)}&tenant=acme")).Status);
        Assert.Empty(Items(await broker.GetJsonAsync("/api/v1/retained?tenant=acme&filter=acme-only/%23"), "topic"));
        ProblemAssert.Is(HttpStatusCode.NotFound, await broker.SendAsync(HttpMethod.Post, $"/api/v1/clients/{id}/disconnect"), id); // not the default tenant's
        Assert.Equal(HttpStatusCode.NoContent, (await broker.SendAsync(HttpMethod.Post, $"/api/v1/clients/{id}/disconnect?tenant=acme")).Status);
        var kicked = await Poll.WithTimeout(client.Disconnected, MqttNetClient.Timeout, "the kicked client's DISCONNECT");
        Assert.Equal(MqttClientDisconnectReason.AdministrativeAction, kicked.Reason);
        Assert.Equal(HttpStatusCode.NoContent, (await broker.SendAsync(HttpMethod.Delete, $"/api/v1/sessions/{id}?tenant=acme")).Status);
        Assert.Empty(Items(await broker.GetJsonAsync($"/api/v1/sessions?tenant=acme&id={id}"), "clientId"));

        // Failed logins in the tenant ban the address there; the bans list says which tenant.
        for (var attempt = 0; attempt < 2; attempt++)
        {
            await using var wrong = await MqttNetClient.TryConnectAsync(broker.MqttPort, MqttProtocolVersion.V500, null, o => o.WithCredentials("acme:u", "wrong"));
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, wrong.ConnectResult!.ResultCode);
        }

        var ban = Assert.Single((await broker.GetJsonAsync("/api/v1/security/bans")).EnumerateArray(), b => b.GetProperty("address").GetString() == "127.0.0.1");
        Assert.Equal("acme", ban.GetProperty("tenant").GetString());
    }

    [Fact]
    public async Task Ctl_ListsTenants_AndClientsOfOneTenant()
    {
        await using var broker = await StartAsync();
        var id = Unique.ClientId("acme-ctl");
        await using var client = await ConnectToAcmeAsync(broker.MqttPort, id);
        Task<ToolResult> CtlAsync(params string[] arguments) =>
            KirisameProcess.RunToCompletionAsync(["ctl", "--url", broker.BaseUrl, "--token", broker.Credentials!.AdminToken, .. arguments], s_timeout);

        var tenants = await CtlAsync("tenants");
        Assert.True(tenants.ExitCode == 0, tenants.ToString());
        var lines = tenants.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["NAME", "CLIENTS", "SESSIONS", "RETAINED", "QUOTAS"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["default", "0", "0", "0", "-"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["acme", "1", "1", "0", "maxConnections=5"], lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries));

        var inAcme = await CtlAsync("clients", "--tenant", "acme", "--id", id);
        Assert.True(inAcme.ExitCode == 0, inAcme.ToString());
        Assert.StartsWith(id, Assert.Single(inAcme.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1..]), StringComparison.Ordinal);
        var inDefault = await CtlAsync("clients", "--id", id);
        Assert.Single(inDefault.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)); // the header alone

        var status = await CtlAsync("status", "--tenant", "acme");
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Contains("connections: connected=1,", status.Stdout, StringComparison.Ordinal); // acme's client; the default tenant has none

        var kicked = await CtlAsync("clients", "kick", id, "--tenant", "acme");
        Assert.True(kicked.ExitCode == 0, kicked.ToString());
        await Poll.WithTimeout(client.Disconnected, MqttNetClient.Timeout, "the kicked client's DISCONNECT");

        var unknown = await CtlAsync("sessions", "--tenant", "nope");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("No tenant 'nope'", unknown.Stderr, StringComparison.Ordinal);
    }
}
