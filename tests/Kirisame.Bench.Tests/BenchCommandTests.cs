using System.Text.Json;
using Kirisame.Bench.Reporting;
using Kirisame.Protocol;
using Kirisame.Testing;

namespace Kirisame.Bench.Tests;

/// `kirisame bench` as a user runs it, and the engine against Kirisame itself.
[Collection(MosquittoCollection.Name)]
public sealed class BenchCommandTests(MosquittoFixture mosquitto)
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Help_ListsTheScenarios()
    {
        var result = await KirisameProcess.RunToCompletionAsync(["bench", "--help"], s_timeout);

        Assert.True(result.ExitCode == 0, result.ToString());
        foreach (var scenario in new[] { "fanin", "fanout", "pairs", "latency", "conn" })
            Assert.Contains(scenario, result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadOption_ExitsTwo_NamingIt()
    {
        var result = await KirisameProcess.RunToCompletionAsync(["bench", "--scenario", "fanin", "--qos", "5"], s_timeout);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--qos '5'", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_AgainstMosquitto_ParsesAndIsClean()
    {
        var result = await KirisameProcess.RunToCompletionAsync(
            ["bench", "--scenario", "pairs", "--clients", "3", "--qos", "1", "--duration", "1", "--warmup", "0.2",
             "--port", mosquitto.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--json"], s_timeout);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal(0, json.RootElement.GetProperty("missing").GetInt64());
        Assert.True(json.RootElement.GetProperty("delivered").GetInt64() > 0, result.Stdout);
    }

    [Theory]
    [InlineData(Scenario.FanIn, QualityOfService.AtLeastOnce)]
    [InlineData(Scenario.Pairs, QualityOfService.ExactlyOnce)]
    public async Task Engine_AgainstKirisame_LosesNothing(Scenario scenario, QualityOfService qos)
    {
        // Default settings: an unthrottled fan-in overruns the broker, which holds its publishers back rather
        // than dropping for subscribers that keep up (docs/adr/0009).
        await using var kirisame = await KirisameProcess.StartAsync(["--Broker:SysInterval", "0"]);

        var result = await BenchRunner.RunAsync(new BenchOptions
        {
            Scenario = scenario,
            Port = kirisame.Port,
            QoS = qos,
            Publishers = 4,
            Duration = TimeSpan.FromSeconds(1),
            Warmup = TimeSpan.FromSeconds(0.2),
        });

        var report = BenchReport.ToText(result) + kirisame.Describe();
        Assert.True(result.IsClean, report);
        Assert.True(result.TotalDelivered > 0, report);
        Assert.Equal(result.TotalExpected, result.TotalDelivered);
    }

    [Fact]
    public async Task Lost_CountsWhatTheBrokerAcknowledgedAndThenDropped()
    {
        // A broker that acknowledges and then drops: Mosquitto with one queued message per client PUBACKs each
        // publish as it reads it and drops what does not fit in the subscriber's in-flight window (1) and queue (1).
        // Four publishers with 64 in flight each overrun that at once. (Kirisame no longer does this to a subscriber
        // that keeps up: SaturatedBrokerTests.)
        await using var lossy = await MosquittoProcess.StartAsync(["max_queued_messages 1", "max_inflight_messages 1"]);

        var result = await BenchRunner.RunAsync(new BenchOptions
        {
            Scenario = Scenario.FanIn,
            Port = lossy.Port,
            QoS = QualityOfService.AtLeastOnce,
            Publishers = 4,
            Duration = TimeSpan.FromSeconds(1),
            Warmup = TimeSpan.FromSeconds(0.2),
            BrokerPid = lossy.Process.Id,
        });

        var report = BenchReport.ToText(result) + lossy.Describe();
        Assert.True(result.Errors.Count == 0, report);
        Assert.Equal(result.TotalSent, result.TotalAccepted);
        Assert.True(result.Lost > 0, report);
        Assert.Equal(result.TotalAccepted - result.TotalDelivered, result.Lost);
        Assert.False(result.IsClean, report);
        Assert.NotNull(result.BrokerRss);
    }

    [Fact]
    public async Task Json_WithBrokerPid_HasTheBrokerRss_AndTheQoS1Figures()
    {
        var result = await KirisameProcess.RunToCompletionAsync(
            ["bench", "--scenario", "pairs", "--clients", "2", "--qos", "1", "--duration", "1", "--warmup", "0.2",
             "--port", mosquitto.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
             "--broker-pid", mosquitto.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), "--json"], s_timeout);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        var root = json.RootElement;
        Assert.Equal(64, root.GetProperty("inflight").GetInt32());
        Assert.Equal(root.GetProperty("sent").GetInt64(), root.GetProperty("accepted").GetInt64());
        Assert.Equal(0, root.GetProperty("lost").GetInt64());
        Assert.Equal(1, root.GetProperty("delivered_per_s_series").GetArrayLength());
        var rss = root.GetProperty("broker_rss");
        Assert.True(rss.GetProperty("peak").GetInt64() > 0, result.Stdout);
        Assert.Equal(rss.GetProperty("end").GetInt64() - rss.GetProperty("start").GetInt64(), rss.GetProperty("growth").GetInt64());
    }

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task SessionExpiry_MakesEverySessionPersistent(ProtocolVersion version)
    {
        var dataDir = Directory.CreateTempSubdirectory("kirisame-bench-").FullName;
        try
        {
            await using (var kirisame = await KirisameProcess.StartAsync(["--data-dir", dataDir, "--Broker:SysInterval", "0"]))
            {
                var result = await BenchRunner.RunAsync(new BenchOptions
                {
                    Scenario = Scenario.Pairs,
                    Port = kirisame.Port,
                    QoS = QualityOfService.AtLeastOnce,
                    Version = version,
                    Publishers = 3,
                    SessionExpiry = 3600,
                    Duration = TimeSpan.FromSeconds(1),
                    Warmup = TimeSpan.FromSeconds(0.2),
                });
                Assert.True(result.IsClean, BenchReport.ToText(result) + kirisame.Describe());
                kirisame.Process.Terminate();
                Assert.True(await kirisame.Process.WaitForExitAsync(s_timeout), kirisame.Describe());
            }

            // Three publishers and three subscribers: six sessions outlived their connections and the broker.
            await using var restarted = await KirisameProcess.StartAsync(["--data-dir", dataDir, "--Broker:SysInterval", "0"]);
            var restored = await restarted.Process.WaitForLineAsync(l => l.Contains("Restored ", StringComparison.Ordinal), s_timeout);
            Assert.Contains("Restored 6 sessions", restored ?? restarted.Describe(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }
}
