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

    /// MQTT 5 properties set with mosquitto_pub -D arrive unchanged at mosquitto_sub, whose -F format prints
    /// them: %P user properties, %C content type, %R response topic, %D correlation data, %E message expiry,
    /// %F payload format indicator, %S subscription identifier.
    [Fact]
    public async Task MosquittoPubV5Properties_ArriveUnchangedAtMosquittoSub()
    {
        var topic = Unique.Topic("cli-v5-properties");
        await using var subscriber = MosquittoClients.StartSubscriber(Port, topic, 1, "mqttv5",
            "-C", "1", "-D", "subscribe", "subscription-identifier", "7",
            "-F", "MESSAGE P=%P|C=%C|R=%R|D=%D|E=%E|F=%F|S=%S|q=%q|p=%p");
        await MosquittoClients.WaitUntilSubscribedAsync(subscriber);

        var published = await MosquittoClients.PublishAsync(Port, topic, "hello v5", qos: 1, "mqttv5", extra:
        [
            "-D", "publish", "user-property", "k1", "v1",
            "-D", "publish", "user-property", "k2", "value two",
            "-D", "publish", "user-property", "k1", "again",
            "-D", "publish", "content-type", "text/plain; charset=utf-8",
            "-D", "publish", "response-topic", $"{topic}/reply",
            "-D", "publish", "correlation-data", "request-42",
            "-D", "publish", "message-expiry-interval", "120",
            "-D", "publish", "payload-format-indicator", "1",
        ]);

        Assert.True(published.ExitCode == 0, published.ToString());
        Assert.True(await subscriber.WaitForExitAsync(MosquittoClients.DefaultTimeout), subscriber.Describe());
        var line = subscriber.StdoutLines.SingleOrDefault(l => l.StartsWith("MESSAGE ", StringComparison.Ordinal));
        Assert.True(line is not null, subscriber.Describe());
        var fields = line["MESSAGE ".Length..].Split('|').ToDictionary(f => f[..f.IndexOf('=', StringComparison.Ordinal)], f => f[(f.IndexOf('=', StringComparison.Ordinal) + 1)..]);
        // [MQTT-3.3.2-17] [MQTT-3.3.2-18] all user properties, in order, the repeated name included.
        Assert.Equal("k1:v1 k2:value two k1:again", fields["P"]);
        Assert.Equal("text/plain; charset=utf-8", fields["C"]); // [MQTT-3.3.2-20]
        Assert.Equal($"{topic}/reply", fields["R"]); // [MQTT-3.3.2-15]
        Assert.Equal("request-42", fields["D"]); // [MQTT-3.3.2-16]
        Assert.Equal("1", fields["F"]); // [MQTT-3.3.2-4]
        Assert.Equal("7", fields["S"]);
        Assert.Equal("1", fields["q"]);
        Assert.Equal("hello v5", fields["p"]);
        // Forwarded at once, so at most a second or two less than was sent [MQTT-3.3.2-6].
        Assert.InRange(int.Parse(fields["E"], System.Globalization.CultureInfo.InvariantCulture), 115, 120);
        Assert.True(subscriber.ExitCode == 0, subscriber.Describe());
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
