using Kirisame.Interop.Tests.Management;

namespace Kirisame.Interop.Tests.WebConsole;

/// The console of a server whose API is open (loopback, no admin users: the default): no login, and it says so.
public sealed class OpenConsoleTests(OpenConsoleFixture fixture) : IClassFixture<OpenConsoleFixture>
{
    private ManagedBroker Broker => fixture.Broker;

    private ConsoleBrowser Browser => fixture.Browser;

    [Fact]
    public async Task WithNoAdminUsers_TheConsoleOpensWithoutALogin_AsAnAdministrator()
    {
        await using var client = await MqttNetClient.ConnectAsync(Broker.MqttPort, MQTTnet.Formatter.MqttProtocolVersion.V311, "open-console-client");
        Browser.Open($"{Broker.BaseUrl}/console/#/clients");

        Browser.Wait("tbody tr[data-key='open-console-client'] button[data-action='disconnect']", e => e.Enabled, "the client, with a kick button");
        var who = Browser.Wait("#who").Text;
        Assert.Contains("open: no admin users configured", who, StringComparison.Ordinal);
        Assert.Contains("administrator", who, StringComparison.Ordinal);
        Assert.False(Browser.Wait("#app").FindElements(OpenQA.Selenium.By.CssSelector("#logout")).Single().Displayed);
        Assert.False(Browser.Driver.FindElement(OpenQA.Selenium.By.CssSelector("#login")).Displayed);
        Assert.Empty(Browser.TakeErrors());
    }
}
