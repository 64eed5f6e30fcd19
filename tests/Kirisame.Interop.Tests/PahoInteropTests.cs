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
}
