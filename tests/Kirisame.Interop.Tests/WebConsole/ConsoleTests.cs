using System.Globalization;
using System.Net;
using Kirisame.Interop.Tests.Management;
using Kirisame.Testing;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using OpenQA.Selenium;

namespace Kirisame.Interop.Tests.WebConsole;

/// The web console in a real Chromium against the real server: log in, watch the overview, kick a client of
/// mosquitto_sub, publish from the WebSocket client page to mosquitto_sub, find a retained message in the topic
/// tree and delete it, lift a ban, and read every other page. Each test saves a screenshot of its page
/// (<see cref="ConsoleBrowser.ScreenshotFolder"/>; the README shows copies from docs/console).
public sealed class ConsoleTests(ConsoleFixture fixture) : IClassFixture<ConsoleFixture>
{
    private ManagedBroker Broker => fixture.Broker;

    private ConsoleBrowser Browser => fixture.Browser;

    private string PageUrl(string page) => $"{Broker.BaseUrl}/console/#/{page}";

    private bool Displayed(string css) => Browser.Driver.FindElements(By.CssSelector(css)).Any(e => e.Displayed);

    /// Loads the page afresh, logged in as <paramref name="user"/> (through the login form when the tab holds
    /// no credentials, or other ones).
    private void Open(string page, string user = "admin")
    {
        Browser.Open("about:blank");
        Browser.Open(PageUrl(page));
        Browser.Until(() => Displayed("#app") || Displayed("#login"), "the console to start");
        if (Displayed("#app"))
        {
            if (Browser.Wait("#who .user").Text == user)
                return;
            Browser.Click("#logout");
        }

        LogIn(user, ManagementCredentials.Passwords[user]);
        Browser.Wait($"[data-page='{page}']");
    }

    private void LogIn(string user, string password)
    {
        Browser.Wait("#login-form");
        Browser.Click("label:has(#login-kind-password)");
        Browser.Type("#login-user", user);
        Browser.Type("#login-password", password);
        Browser.Click("#login-submit");
        Browser.Wait("#who .user", e => e.Text == user, $"the console logged in as {user}");
    }

    private void Confirm() => Browser.Click("#dialog-ok");

    /// No script error and no policy violation on the way.
    private void AssertNoPageErrors()
    {
        var errors = Browser.TakeErrors();
        Assert.True(errors.Count == 0, "the page reported:\n" + string.Join("\n", errors));
    }

    private static string Row(string key) => $"tbody tr[data-key='{key}']";

    [Fact]
    public async Task LogIn_AWrongPasswordIsRefused_TheRightOneShowsTheOverviewWithLiveCharts()
    {
        Browser.Open($"{Broker.BaseUrl}/console/");
        Browser.Script("sessionStorage.clear()");
        Browser.Open("about:blank");
        Browser.Open($"{Broker.BaseUrl}/console/");
        Browser.Wait("#login-form");
        Browser.Type("#login-user", "admin");
        Browser.Type("#login-password", "admin-secret");
        Browser.Screenshot("login");

        Browser.Type("#login-password", "guess");
        Browser.Click("#login-submit");
        var error = Browser.Wait("#login-error", e => e.Text.Length > 0, "the refusal");
        Assert.Contains("not accepted", error.Text, StringComparison.Ordinal);
        Assert.False(Displayed("#app"));

        // Traffic for the charts: a subscriber and a publisher, while the overview samples every 2 s.
        var topic = Unique.Topic("overview");
        await using var subscriber = await MqttNetClient.ConnectAsync(Broker.MqttPort, MqttProtocolVersion.V500, "overview-subscriber");
        await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtMostOnce);
        await using var second = await MqttNetClient.ConnectAsync(Broker.MqttPort, MqttProtocolVersion.V500, "overview-second-subscriber");
        await second.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtMostOnce); // so that out is twice in
        await using var publisher = await MqttNetClient.ConnectAsync(Broker.MqttPort, MqttProtocolVersion.V311, "overview-publisher");
        LogIn("admin", "admin-secret");
        Assert.Contains("administrator", Browser.Wait("#who").Text, StringComparison.Ordinal);
        Browser.Wait("[data-page='overview']");

        var sent = 0;
        Browser.Until(() =>
        {
            publisher.PublishAsync(topic, $"reading {sent++}", MqttQualityOfServiceLevel.AtMostOnce).GetAwaiter().GetResult();
            var points = (string?)Browser.Script("const line = document.querySelector('.chart-line.series-in'); return line && line.getAttribute('points');");
            return points is not null && points.Split(' ').Length >= 4;
        }, "four samples on the messages chart");
        await subscriber.WaitForMessagesAsync(sent);

        var connected = int.Parse(Browser.Wait("#stat-connected").Text, CultureInfo.InvariantCulture);
        Assert.True(connected >= 3, $"the overview shows {connected} connected clients; three are connected");
        Assert.Equal("healthy", Browser.Wait("#stat-store").Text);
        Assert.Single(Browser.Driver.FindElements(By.CssSelector(".chart-line.series-connections")));
        Assert.Single(Browser.Driver.FindElements(By.CssSelector(".chart-line.series-drops")));
        Assert.Contains($"127.0.0.1:{fixture.WebSocketPort}/mqtt", Browser.PageText(), StringComparison.Ordinal); // the listeners
        Browser.Screenshot("overview");
        AssertNoPageErrors();
    }

    [Fact]
    public async Task Clients_AClientOfMosquittoSubIsListed_KickedWithDisconnect_AndGone()
    {
        const string id = "kitchen-display";
        await using var subscriber = MosquittoClients.StartSubscriber(Broker.MqttPort, "home/kitchen/#", 1, "mqttv5", "-i", id);
        await MosquittoClients.WaitUntilSubscribedAsync(subscriber);
        Open("clients");

        var row = Browser.Wait(Row(id), what: $"{id} in the list");
        Assert.Contains("connected", row.Text, StringComparison.Ordinal);
        Assert.Contains("5.0", row.Text, StringComparison.Ordinal);
        Browser.Screenshot("clients");

        Browser.Click($"{Row(id)} button[data-action='disconnect']");
        Assert.Contains(id, Browser.Wait("#dialog-title").Text, StringComparison.Ordinal);
        Confirm();

        Browser.WaitGone(Row(id), $"{id} to leave the list");
        Browser.Wait(".notice.ok", e => e.Text.Contains(id, StringComparison.Ordinal));
        // mosquitto_sub got DISCONNECT 0x98 (administrative action) and exited; the API agrees the client is gone.
        Assert.NotNull(await subscriber.WaitForLineAsync(l => l.Contains("DISCONNECT (152)", StringComparison.Ordinal), MosquittoClients.DefaultTimeout));
        Assert.DoesNotContain(id, await Broker.ClientIdsAsync());
        AssertNoPageErrors();
    }

    [Fact]
    public async Task WebSocketClient_ConnectsSubscribesAndPublishes_MosquittoSubReceivesIt()
    {
        const string topic = "chat/room-1";
        const string text = "hello from the browser";
        await using var subscriber = MosquittoClients.StartSubscriber(Broker.MqttPort, topic, 1);
        await MosquittoClients.WaitUntilSubscribedAsync(subscriber);
        Open("websocket");

        // The URL comes from the broker's WebSocket listener.
        Browser.Until(() => Browser.Wait("#ws-url").GetAttribute("value") == $"ws://127.0.0.1:{fixture.WebSocketPort}/mqtt", "the ws listener's URL");
        Browser.Type("#ws-client-id", "browser-demo");
        Browser.Click("#ws-connect");
        Browser.Wait("#ws-state", e => e.Text == "connected", "the MQTT connection over WebSocket");
        Browser.Type("#ws-subscribe-topic", "chat/#");
        Browser.Click("#ws-subscribe");
        Browser.Wait("#ws-subscriptions li[data-filter='chat/#']");

        Browser.Type("#ws-publish-topic", topic);
        Browser.Type("#ws-publish-payload", text);
        Browser.Click("#ws-publish-qos option[value='1']");
        Browser.Click("#ws-publish");

        var line = await subscriber.WaitForLineAsync(l => l == $"{topic} {text}", MosquittoClients.DefaultTimeout);
        Assert.True(line is not null, subscriber.Describe());
        var echoed = Browser.Wait($"#ws-messages tr[data-topic='{topic}']", what: "the message back on the page's own subscription");
        Assert.Contains(text, echoed.Text, StringComparison.Ordinal);
        var client = await Broker.GetJsonAsync("/api/v1/clients/browser-demo");
        Assert.Equal("ws", client.GetProperty("listener").GetString());
        Browser.Screenshot("websocket");

        Browser.Click("#ws-disconnect");
        Browser.Wait("#ws-state", e => e.Text == "disconnected");
        Assert.True(await Poll.UntilAsync(() => !Broker.ClientIdsAsync().GetAwaiter().GetResult().Contains("browser-demo"), MosquittoClients.DefaultTimeout),
            "the page's client is still listed after it disconnected");
        AssertNoPageErrors();
    }

    [Fact]
    public async Task RetainedMessage_FoundInTheTopicTree_ReadAndDeleted()
    {
        const string topic = "home/kitchen/temperature";
        foreach (var (name, value, publisher) in new[]
                 { (topic, "21.5 °C", "kitchen-sensor"), ("home/kitchen/humidity", "48 %", "kitchen-sensor"), ("home/hall/temperature", "19.0 °C", "hall-sensor") })
        {
            var published = await MosquittoClients.PublishAsync(Broker.MqttPort, name, value, qos: 1, retain: true, extra: ["-i", publisher]);
            Assert.True(published.ExitCode == 0, published.ToString());
        }

        await using var dashboard = MosquittoClients.StartSubscriber(Broker.MqttPort, "home/+/temperature", 1, "mqttv311", "-i", "home-dashboard");
        await MosquittoClients.WaitUntilSubscribedAsync(dashboard);
        Open("topics");
        foreach (var level in new[] { "home", "home/kitchen", "home/+" })
            Browser.Click($"li[data-topic='{level}'] > .tree-row > button.twisty");
        var node = Browser.Wait($"li[data-topic='{topic}']", what: "the topic in the tree");
        Assert.Contains("retained", node.Text, StringComparison.Ordinal);
        Assert.Contains("1 subscribed", Browser.Wait("li[data-topic='home/+/temperature']").Text, StringComparison.Ordinal);
        Browser.Screenshot("topics");

        Browser.Click($"li[data-topic='{topic}'] > .tree-row > a.badge");
        Browser.Wait("#retained-payload", e => e.Text == "21.5 °C", "the payload");
        Assert.Equal(topic, Browser.Wait("#retained-topic").Text);
        Browser.Wait(Row("home/hall/temperature"));
        Browser.Screenshot("retained");

        Browser.Click("#retained-delete");
        Confirm();
        Browser.WaitGone(Row(topic), "the deleted message to leave the list");
        Assert.True(Displayed(Row("home/kitchen/humidity")));
        var gone = await Broker.SendAsync(HttpMethod.Get, $"/api/v1/retained/message?topic={Uri.EscapeDataString(topic)}");
        Assert.Equal(HttpStatusCode.NotFound, gone.Status);
        AssertNoPageErrors();
    }

    [Fact]
    public async Task Bans_AnAddressBannedAfterFailedLogins_IsLiftedFromTheConsole()
    {
        // From 127.0.0.2, so that the ban leaves the other tests' clients (127.0.0.1) alone.
        string[] wrong = ["-A", "127.0.0.2", "-u", ConsoleFixture.MqttUser, "-P", "guess"];
        for (var i = 0; i < ConsoleFixture.MaxFailedLogins; i++)
            Assert.NotEqual(0, (await MosquittoClients.PublishAsync(Broker.MqttPort, "home/door", "open", extra: wrong)).ExitCode);
        string[] right = ["-A", "127.0.0.2", "-u", ConsoleFixture.MqttUser, "-P", ConsoleFixture.MqttPassword];
        Assert.NotEqual(0, (await MosquittoClients.PublishAsync(Broker.MqttPort, "home/door", "open", extra: right)).ExitCode);
        Open("bans");

        var until = Browser.Wait($"{Row("127.0.0.2")} time", what: "the banned address and until when").GetAttribute("datetime");
        Assert.True(DateTimeOffset.Parse(until!, CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.AddMinutes(50), until);
        Browser.Screenshot("bans");
        Browser.Click($"{Row("127.0.0.2")} button[data-action='lift']");

        Browser.WaitGone(Row("127.0.0.2"), "the lifted ban to leave the list");
        var published = await MosquittoClients.PublishAsync(Broker.MqttPort, "home/door", "open", extra: right);
        Assert.True(published.ExitCode == 0, published.ToString());
        AssertNoPageErrors();
    }

    [Fact]
    public async Task SessionsSubscriptionsListenersAndUsers_ShowTheBroker_AndAUserAddedLogsIn()
    {
        // An offline session with a queued message: subscribed (QoS 1, expiry an hour), then gone.
        const string offline = "night-logger";
        var subscribed = await Tools.RunAsync(MosquittoClients.Sub,
            ["-h", "127.0.0.1", "-p", Broker.MqttPort.ToString(CultureInfo.InvariantCulture), "-V", "mqttv5", "-i", offline, "-c", "-x", "3600",
                "-q", "1", "-t", "alerts/#", "-E"], MosquittoClients.DefaultTimeout);
        Assert.True(subscribed.ExitCode == 0, subscribed.ToString());
        Assert.Equal(0, (await MosquittoClients.PublishAsync(Broker.MqttPort, "alerts/smoke", "hall", qos: 1)).ExitCode);
        await using var live = MosquittoClients.StartSubscriber(Broker.MqttPort, "home/#", 0, "mqttv5", "-i", "hall-panel");
        await MosquittoClients.WaitUntilSubscribedAsync(live);

        Open("sessions");
        var session = Browser.Wait(Row(offline), what: "the offline session");
        Assert.Contains("offline", session.Text, StringComparison.Ordinal);
        Assert.Contains("1 (", session.Text, StringComparison.Ordinal); // one message queued
        Browser.Wait(Row("hall-panel"));
        Browser.Screenshot("sessions");

        Browser.Click($"{Row(offline)} a");
        Browser.Wait($"tbody tr[data-client-id='{offline}'][data-filter='alerts/#']", what: "the session's subscription");
        Browser.Open("about:blank");
        Browser.Open(PageUrl("subscriptions"));
        Browser.Wait("tbody tr[data-client-id='hall-panel'][data-filter='home/#']");
        Browser.Screenshot("subscriptions");

        Open("listeners");
        Browser.Wait(Row("ws"), e => e.Text.Contains($"127.0.0.1:{fixture.WebSocketPort}/mqtt", StringComparison.Ordinal));
        Browser.Wait(Row("tcp"));
        Browser.Screenshot("listeners");

        Open("users");
        Browser.Wait(Row(ConsoleFixture.MqttUser));
        Browser.Type("#add-user input[name='userName']", "dave");
        Browser.Type("#add-user input[name='password']", "dave-secret");
        Browser.Click("#add-user button[type='submit']");
        Browser.Wait(Row("dave"), what: "the added user");
        Browser.Screenshot("users");
        var loggedIn = false;
        for (var deadline = DateTime.UtcNow + MosquittoClients.DefaultTimeout; !loggedIn && DateTime.UtcNow < deadline; await Task.Delay(100))
            loggedIn = (await MosquittoClients.PublishAsync(Broker.MqttPort, "home/door", "closed", extra: ["-u", "dave", "-P", "dave-secret"])).ExitCode == 0;
        Assert.True(loggedIn, "dave could not log in over MQTT after being added in the console");
        AssertNoPageErrors();
    }

    [Fact]
    public async Task AViewer_LoggedInWithAToken_SeesClientsButCannotKick()
    {
        const string id = "hall-sensor";
        await using var client = await MqttNetClient.ConnectAsync(Broker.MqttPort, MqttProtocolVersion.V500, id);
        Open("clients");
        Browser.Click("#logout");
        Browser.Wait("#login-form");
        Browser.Click("label:has(#login-kind-token)");
        Browser.Type("#login-token", Broker.Credentials!.ViewerToken);
        Browser.Click("#login-submit");
        Browser.Wait("#who .user", e => e.Text == "dashboard", "the console logged in with the viewer token");
        Assert.Contains("viewer", Browser.Wait("#who").Text, StringComparison.Ordinal);

        var kick = Browser.Wait($"{Row(id)} button[data-action='disconnect']");
        Assert.False(kick.Enabled);
        Assert.Equal("Needs the administrator role", kick.GetAttribute("title"));
        Browser.Screenshot("clients-viewer");
        await client.PingAsync();
        Assert.True(client.Client.IsConnected);
        Browser.Click("#logout");
        Browser.Wait("#login-form");
        AssertNoPageErrors();
    }
}
