using Kirisame.Testing;

namespace Kirisame.Interop.Tests;

/// Debian's mosquitto_pub and mosquitto_sub as the clients.
public sealed class MosquittoClientInteropTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private int Port => fixture.Port;

    public static TheoryData<string, int> VersionsAndQoS()
    {
        var data = new TheoryData<string, int>();
        foreach (var version in new[] { "mqttv311", "mqttv5" })
        {
            for (var qos = 0; qos <= 2; qos++)
                data.Add(version, qos);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(VersionsAndQoS))]
    public async Task MosquittoPub_ReachesMosquittoSub(string version, int qos)
    {
        var topic = Unique.Topic($"cli-{version}-{qos}");
        await using var subscriber = MosquittoClients.StartSubscriber(Port, topic, qos, version, "-C", "1");
        await MosquittoClients.WaitUntilSubscribedAsync(subscriber);

        var published = await MosquittoClients.PublishAsync(Port, topic, "from mosquitto_pub", qos, version);

        Assert.True(published.ExitCode == 0, published.ToString());
        Assert.True(await subscriber.WaitForExitAsync(MosquittoClients.DefaultTimeout), subscriber.Describe());
        Assert.Contains($"{topic} from mosquitto_pub", subscriber.StdoutLines);
        Assert.True(subscriber.ExitCode == 0, subscriber.Describe());
    }

    [Theory]
    [InlineData("mqttv311")]
    [InlineData("mqttv5")]
    public async Task RetainedMessage_IsDeliveredToALaterSubscriber(string version)
    {
        var topic = Unique.Topic($"cli-retained-{version}");
        var published = await MosquittoClients.PublishAsync(Port, topic, "retained value", qos: 1, version, retain: true);
        Assert.True(published.ExitCode == 0, published.ToString());

        await using var subscriber = MosquittoClients.StartSubscriber(Port, topic, 1, version, "-C", "1");

        Assert.True(await subscriber.WaitForExitAsync(MosquittoClients.DefaultTimeout), subscriber.Describe());
        Assert.Contains($"{topic} retained value", subscriber.StdoutLines);
        // -d shows the flags of the received PUBLISH: r1 = retained.
        Assert.Contains(subscriber.StdoutLines, l => l.Contains("received PUBLISH", StringComparison.Ordinal) && l.Contains("r1", StringComparison.Ordinal));

        var cleared = await MosquittoClients.PublishAsync(Port, topic, "", qos: 1, version, retain: true);
        Assert.True(cleared.ExitCode == 0, cleared.ToString());
    }

    /// The statistics a $SYS/# subscriber sees (fixture brokers publish them every second). Mosquitto, the
    /// reference, names the dropped-message counter publish/messages/dropped.
    private static readonly string[] s_sysTopics =
    [
        "$SYS/broker/version",
        "$SYS/broker/uptime",
        "$SYS/broker/clients/connected",
        "$SYS/broker/clients/total",
        "$SYS/broker/clients/maximum",
        "$SYS/broker/messages/received",
        "$SYS/broker/messages/sent",
        TestBroker.IsMosquitto ? "$SYS/broker/publish/messages/dropped" : "$SYS/broker/messages/dropped",
        "$SYS/broker/bytes/received",
        "$SYS/broker/bytes/sent",
        "$SYS/broker/load/messages/received/1min",
        "$SYS/broker/load/messages/received/5min",
        "$SYS/broker/load/messages/received/15min",
        "$SYS/broker/subscriptions/count",
        "$SYS/broker/retained messages/count",
    ];

    [Fact]
    public async Task SysSubscription_ShowsBrokerStatistics()
    {
        var expected = s_sysTopics;
        await using var subscriber = MosquittoClients.StartSubscriber(Port, "$SYS/#", 0, "mqttv311");
        await MosquittoClients.WaitUntilSubscribedAsync(subscriber);

        // Lines are "topic payload"; a topic may itself contain a space ("retained messages/count").
        var seen = new HashSet<string>();
        await subscriber.WaitForLineAsync(line =>
        {
            seen.UnionWith(expected.Where(topic => line.StartsWith(topic + " ", StringComparison.Ordinal)));
            return seen.Count == expected.Length;
        }, TimeSpan.FromSeconds(30));

        var missing = expected.Except(seen).ToList();
        Assert.True(missing.Count == 0, $"Missing $SYS topics: {string.Join(", ", missing)}\n{subscriber.Describe()}");
        var version = subscriber.StdoutLines.First(l => l.StartsWith("$SYS/broker/version ", StringComparison.Ordinal));
        Assert.True(version.Length > "$SYS/broker/version ".Length, "The version topic should carry a version string.");
    }
}
