using Kirisame.Interop.Tests.Management;
using Kirisame.Interop.Tests.Tenants;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using OpenQA.Selenium;

namespace Kirisame.Interop.Tests.WebConsole;

/// The console's tenant selector (docs/adr/0021-tenants.md) in a real Chromium against a server with a tenant: the
/// clients page and the overview show the tenant chosen in the top bar, and a choice lasts across pages of the tab.
public sealed class TenantConsoleTests : IAsyncLifetime, IDisposable
{
    private readonly TenantFiles _files = new();
    private ManagedBroker _broker = null!;
    private ConsoleBrowser _browser = null!;

    public async Task InitializeAsync()
    {
        var passwords = await _files.PasswordFileAsync("acme.passwd", ("u", "acme-secret"));
        _files.WriteTenants(new Dictionary<string, object> { ["acme"] = new { PasswordFile = passwords } });
        _broker = await ManagedBroker.StartAsync(withCredentials: true, "--Tenants:File", _files.TenantsFile);
        _browser = new ConsoleBrowser();
    }

    public async Task DisposeAsync()
    {
        if (_broker is not null)
            await _broker.DisposeAsync();
    }

    /// After DisposeAsync (xUnit calls both).
    public void Dispose()
    {
        _browser?.Dispose();
        _files.Dispose();
    }

    private bool Displayed(string css) => _browser.Driver.FindElements(By.CssSelector(css)).Any(e => e.Displayed);

    [Fact]
    public async Task TheTenantSelector_ShowsTheChosenTenantsClients()
    {
        var inAcme = Unique.ClientId("acme-console");
        await using var client = await MqttNetClient.ConnectAsync(_broker.MqttPort, MqttProtocolVersion.V500, inAcme, o => o.WithCredentials("acme:u", "acme-secret"));

        _browser.Open($"{_broker.BaseUrl}/console/#/clients");
        _browser.Wait("#login-form");
        _browser.Click("label:has(#login-kind-password)");
        _browser.Type("#login-user", "admin");
        _browser.Type("#login-password", ManagementCredentials.Passwords["admin"]);
        _browser.Click("#login-submit");
        _browser.Wait("[data-page='clients']");

        // The default tenant's clients first: acme's client is not among them.
        _browser.Wait("#tenant-picker", e => e.Displayed, "the tenant selector");
        _browser.Wait(".table-status", e => e.Text.Length > 0 || Displayed("tbody tr"), "the clients table");
        Assert.False(Displayed($"tbody tr[data-key='{inAcme}']"));

        _browser.Click("#tenant option[value='acme']");
        _browser.Wait($"tbody tr[data-key='{inAcme}']", what: "acme's client in the clients page");
        _browser.Screenshot("tenant-clients");

        // The choice holds on another page of the tab, and back to the default tenant the client is gone again.
        _browser.Open($"{_broker.BaseUrl}/console/#/sessions");
        _browser.Wait($"[data-page='sessions'] tbody tr[data-key='{inAcme}']", what: "acme's session in the sessions page");
        _browser.Click("#tenant option[value='']");
        _browser.WaitGone($"tbody tr[data-key='{inAcme}']", "acme's session to leave the default tenant's page");

        // The overview follows the selector too: acme's connected client is counted there, not in the default tenant's.
        _browser.Open($"{_broker.BaseUrl}/console/#/overview");
        _browser.Wait("#stat-connected", e => e.Text == "0", "the default tenant's connected clients");
        _browser.Click("#tenant option[value='acme']");
        _browser.Wait("#stat-connected", e => e.Text == "1", "acme's connected clients in the overview");
        _browser.Wait(".page-header h1", e => e.Text.Contains("acme", StringComparison.Ordinal), "the tenant in the overview's title");
        _browser.Screenshot("tenant-overview");
        var errors = _browser.TakeErrors();
        Assert.True(errors.Count == 0, "the page reported:\n" + string.Join("\n", errors));
    }
}
