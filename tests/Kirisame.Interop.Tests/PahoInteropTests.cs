using Kirisame.Testing;

namespace Kirisame.Interop.Tests;

/// paho-mqtt for Python (Debian's python3-paho-mqtt) running the scripts in python/.
public sealed class PahoInteropTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private static readonly TimeSpan s_scriptTimeout = TimeSpan.FromSeconds(45);

    private static string Script(string name) => Path.Combine(AppContext.BaseDirectory, "python", name);

    private Task<ToolResult> RunAsync(string script, params string[] arguments) =>
        Tools.RunAsync(Tools.Python, [Script(script), "127.0.0.1", fixture.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. arguments], s_scriptTimeout);

    [Fact]
    public async Task TwoSubscribers_BothReceive_AQoS1PublishFromAThirdClient()
    {
        var result = await RunAsync("two_subscribers.py", "my/topic/string");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("OK", result.Stdout.Split('\n'));
    }

    [Fact]
    public async Task SysSubscriber_ReceivesBrokerStatistics()
    {
        var result = await RunAsync("sys_topics.py",
            "$SYS/broker/version", "$SYS/broker/uptime", "$SYS/broker/clients/connected", "$SYS/broker/messages/received");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("OK", result.Stdout.Split('\n'));
    }

    [Fact]
    public async Task SharedSubscription_MembersOfOneGroupSplitMessages_AnotherGroupGetsThemAll()
    {
        var result = await RunAsync("shared_subscriptions.py", "10");

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.Split('\n');
        Assert.Contains("OK", lines);
        Assert.Contains("group-b member-1 10", lines);
    }

    [Fact]
    public async Task SubscriptionIdentifiers_OverlappingSubscriptions_OneMessageListsBoth()
    {
        var result = await RunAsync("subscription_identifiers.py");

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // Kirisame sends one copy for the two matching subscriptions, with both identifiers [MQTT-3.3.4-4].
        // Mosquitto, the reference, sends a copy per subscription, which section 3.3.4 also allows.
        if (!TestBroker.IsMosquitto)
            Assert.Equal(["a ids=5,9", "b ids=5", "a copies=1", "OK"], lines);
        Assert.Equal("OK", lines[^1]);
    }
}
