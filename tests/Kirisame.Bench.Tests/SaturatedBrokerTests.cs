using Kirisame.Bench.Reporting;
using Kirisame.Protocol;
using Kirisame.Testing;

namespace Kirisame.Bench.Tests;

/// Issue 13, "Overload without loss": a QoS 1/2 acknowledgement is a promise. The load generator offers the broker
/// more than it can deliver — unthrottled publishers, each keeping 64 messages in flight, the way real clients load a
/// broker — and every acknowledged message must reach its subscriber. The subscribers keep up (they read and
/// acknowledge as fast as the broker sends), so nothing may be dropped: the broker has to read from the publishers
/// no faster than it delivers. The queue limit is set far below what the publishers have in flight, so that a broker
/// that acknowledges, queues and then drops (as it did: 682,164 of 1,750,116 messages lost in 50 pairs) fails here
/// at once.
public sealed class SaturatedBrokerTests
{
    [Theory]
    [InlineData(Scenario.Pairs, QualityOfService.AtLeastOnce, 8)]
    [InlineData(Scenario.Pairs, QualityOfService.ExactlyOnce, 8)]
    [InlineData(Scenario.FanIn, QualityOfService.AtLeastOnce, 6)]
    [InlineData(Scenario.FanIn, QualityOfService.ExactlyOnce, 6)]
    public async Task SaturatedBroker_DeliversEveryAcknowledgedMessage(Scenario scenario, QualityOfService qos, int publishers)
    {
        await using var kirisame = await KirisameProcess.StartAsync(
            ["--Broker:SysInterval", "0", "--Broker:MaxQueuedMessages", "64", "--Broker:MaxInflightMessages", "16"]);

        var result = await BenchRunner.RunAsync(new BenchOptions
        {
            Scenario = scenario,
            Port = kirisame.Port,
            QoS = qos,
            Publishers = publishers,
            Inflight = 64,
            Duration = TimeSpan.FromSeconds(2),
            Warmup = TimeSpan.FromSeconds(0.5),
        });

        var report = BenchReport.ToText(result) + kirisame.Describe();
        Assert.True(result.TotalDelivered > 0, report);
        Assert.True(result.Errors.Count == 0, report);
        Assert.True(result.TotalExpected == result.TotalDelivered,
            $"{result.TotalExpected - result.TotalDelivered} acknowledged message(s) never delivered\n{report}");
        Assert.True(result.IsClean, report);
    }
}
