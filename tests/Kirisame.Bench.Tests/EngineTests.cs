using System.Text.Json;
using Kirisame.Bench.Measurement;
using Kirisame.Bench.Reporting;
using Kirisame.Protocol;

namespace Kirisame.Bench.Tests;

[Collection(MosquittoCollection.Name)]
public sealed class EngineTests(MosquittoFixture mosquitto)
{
    private BenchOptions Short(Scenario scenario, QualityOfService qos = QualityOfService.AtLeastOnce) => new()
    {
        Scenario = scenario,
        Port = mosquitto.Port,
        QoS = qos,
        Duration = TimeSpan.FromSeconds(1),
        Warmup = TimeSpan.FromSeconds(0.2),
    };

    private static void AssertDeliveredWithoutLoss(BenchResult result)
    {
        var report = BenchReport.ToText(result);
        Assert.True(result.Errors.Count == 0, report);
        Assert.True(result.TotalSent > 0, report);
        Assert.True(result.DeliveredPerSecond > 0, report);
        Assert.Equal(result.TotalExpected, result.TotalDelivered);
        Assert.Equal(0, result.Missing);
        Assert.True(result.IsClean, report);
    }

    [Fact]
    public async Task FanIn_QoS1_DeliversEveryMessage()
    {
        var result = await BenchRunner.RunAsync(Short(Scenario.FanIn));

        AssertDeliveredWithoutLoss(result);
        Assert.Equal(result.TotalSent, result.TotalExpected); // one subscriber
    }

    [Fact]
    public async Task FanIn_SharedTopic_QoS2_DeliversEveryMessage()
    {
        var options = Short(Scenario.FanIn, QualityOfService.ExactlyOnce);
        options.SharedTopic = true;

        AssertDeliveredWithoutLoss(await BenchRunner.RunAsync(options));
    }

    [Fact]
    public async Task Pairs_QoS1_DeliversEveryMessage()
    {
        var options = Short(Scenario.Pairs);
        options.Publishers = 5;

        var result = await BenchRunner.RunAsync(options);

        AssertDeliveredWithoutLoss(result);
        Assert.Equal(5, result.Options.Subscribers);
    }

    [Fact]
    public async Task FanOut_QoS1_DeliversEveryMessageToEverySubscriber()
    {
        var options = Short(Scenario.FanOut);
        options.Subscribers = 5;

        var result = await BenchRunner.RunAsync(options);

        AssertDeliveredWithoutLoss(result);
        Assert.Equal(result.TotalSent * 5, result.TotalExpected);
    }

    [Fact]
    public async Task FanIn_Mqtt5_QoS1_DeliversEveryMessage()
    {
        var options = Short(Scenario.FanIn);
        options.Version = ProtocolVersion.V500;

        AssertDeliveredWithoutLoss(await BenchRunner.RunAsync(options));
    }

    [Fact]
    public async Task FanIn_QoS0_CountsDropsInsteadOfFailing()
    {
        var result = await BenchRunner.RunAsync(Short(Scenario.FanIn, QualityOfService.AtMostOnce));

        Assert.True(result.Errors.Count == 0, BenchReport.ToText(result));
        Assert.True(result.TotalDelivered > 0);
        Assert.Equal(result.TotalExpected - result.TotalDelivered, result.Missing);
        Assert.True(result.IsClean); // drops are reported, not a failure, at QoS 0
    }

    [Fact]
    public async Task Latency_HoldsTheRate_AndReportsOrderedPercentiles()
    {
        var options = Short(Scenario.Latency, QualityOfService.AtMostOnce);
        options.Rate = 2_000;
        options.Duration = TimeSpan.FromSeconds(2);

        var result = await BenchRunner.RunAsync(options);

        var report = BenchReport.ToText(result);
        var latency = Assert.IsType<LatencySummary>(result.Latency);
        Assert.True(latency.Count > 1_000, report);
        Assert.True(latency.P50 > 0, report);
        Assert.True(latency.P50 <= latency.P90 && latency.P90 <= latency.P99 && latency.P99 <= latency.P999 && latency.P999 <= latency.Max, report);
        // Paced by the clock: within 10 % of the asked rate (a loaded machine can only make it late).
        Assert.InRange(result.SentPerSecond, 1_800, 2_200);
    }

    [Fact]
    public async Task Connections_OpensTwoHundred_AndReadsTheBrokerRss()
    {
        var options = Short(Scenario.Connections);
        options.Clients = 200;
        options.BrokerPid = mosquitto.ProcessId;

        var result = await BenchRunner.RunAsync(options);

        var report = BenchReport.ToText(result);
        var connections = Assert.IsType<ConnectionSummary>(result.Connections);
        Assert.True(result.Errors.Count == 0, report);
        Assert.Equal(200, connections.Connected);
        Assert.Equal(200, connections.OpenAtEnd);
        Assert.True(connections.ConnectsPerSecond > 0, report);
        Assert.NotNull(result.BrokerRssBefore);
        Assert.NotNull(result.BrokerRssAfter);
        Assert.NotNull(result.BrokerRssPerConnection);
        Assert.NotNull(result.BrokerBusyCores);
    }

    [Fact]
    public async Task QoS1_ReportsAccepted_NothingLost_APerSecondSeries_AndTheBrokerRss()
    {
        var options = Short(Scenario.Pairs);
        options.Publishers = 3;
        options.Duration = TimeSpan.FromSeconds(2);
        options.BrokerPid = mosquitto.ProcessId;

        var result = await BenchRunner.RunAsync(options);

        var report = BenchReport.ToText(result);
        AssertDeliveredWithoutLoss(result);
        Assert.Equal(64, result.Options.Inflight);
        Assert.Equal(result.TotalSent, result.TotalAccepted); // every publish acknowledged with success
        Assert.Equal(0, result.Lost);
        Assert.Equal(DrainEnd.Complete, result.DrainEnd);
        Assert.True(result.AcceptedPerSecond > 0, report);
        Assert.Equal(2, result.DeliveredPerSecondSeries.Count);
        Assert.Equal(2, result.AcceptedPerSecondSeries.Count);
        Assert.All(result.DeliveredPerSecondSeries, rate => Assert.True(rate > 0, report));
        var rss = Assert.IsType<RssSummary>(result.BrokerRss);
        Assert.True(rss.Samples >= 3, report); // at the start, each second of a run over three seconds, at the end
        Assert.True(rss.Start > 0 && rss.Peak >= rss.Start && rss.Peak >= rss.End, report);
        Assert.Equal(rss.Start, result.BrokerRssBefore);
        Assert.Equal(rss.End, result.BrokerRssAfter);
        Assert.Contains("lost (QoS ≥ 1)", report, StringComparison.Ordinal);
        Assert.Contains("broker RSS", report, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JsonReport_Parses_WithTheMeasuredFigures()
    {
        var options = Short(Scenario.Pairs);
        options.Publishers = 2;
        var result = await BenchRunner.RunAsync(options);

        using var json = JsonDocument.Parse(BenchReport.ToJson(result));

        var root = json.RootElement;
        Assert.Equal("pairs", root.GetProperty("scenario").GetString());
        Assert.Equal(1, root.GetProperty("qos").GetInt32());
        Assert.Equal(result.TotalSent, root.GetProperty("sent").GetInt64());
        Assert.Equal(0, root.GetProperty("missing").GetInt64());
        Assert.True(root.GetProperty("delivered_per_s").GetDouble() > 0);
        Assert.True(root.GetProperty("latency_us").GetProperty("p99").GetDouble() > 0);
        Assert.True(root.GetProperty("generator_cpu").GetProperty("busy_cores").GetDouble() > 0);
        Assert.True(root.GetProperty("clean").GetBoolean());
    }

    [Fact]
    public async Task Publishing_AllocatesAlmostNothingPerMessage()
    {
        var options = Short(Scenario.FanIn, QualityOfService.AtMostOnce);
        options.Rate = 10_000;
        options.Duration = TimeSpan.FromSeconds(1.5);

        var result = await BenchRunner.RunAsync(options);

        // Pre-encoded batches, in-place parsing and pooled async builders. What remains is per run (timers,
        // thread-pool growth), not per message: even 24 bytes a message would be ~700 KB here.
        var messages = (long)((result.SentPerSecond + result.DeliveredPerSecond) * result.WindowSeconds);
        Assert.True(messages > 10_000, BenchReport.ToText(result));
        Assert.True(result.GeneratorAllocatedBytes < (256 * 1024) + messages, BenchReport.ToText(result));
    }
}
