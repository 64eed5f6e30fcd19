using System.Text.Json;
using Kirisame.Bench.Measurement;
using Kirisame.Bench.Reporting;
using Kirisame.Protocol;

namespace Kirisame.Bench.Tests;

/// What a QoS 1/2 run reports from its counts (accepted, delivered, lost, per-second rates, broker RSS),
/// computed on results made by hand rather than measured.
public sealed class ReportTests
{
    private static BenchResult Result(QualityOfService qos, Scenario scenario = Scenario.FanOut) => new()
    {
        Options = new BenchOptions { Scenario = scenario, QoS = qos, Duration = TimeSpan.FromSeconds(3) }.Resolve(),
        WindowSeconds = 3,
        DrainEnd = DrainEnd.Quiet,
        DrainSeconds = 1.02,
    };

    [Fact]
    public void Lost_IsAcceptedTimesSubscribers_LessDelivered()
    {
        var r = Result(QualityOfService.AtLeastOnce);
        r.SubscribersPerMessage = 3;
        r.TotalSent = 110;
        r.TotalExpected = 330;
        r.TotalAccepted = 100; // 10 sent and never acknowledged: missing, but not lost
        r.TotalDelivered = 290;

        Assert.Equal(10, r.Lost);
        Assert.Equal(40, r.Missing);
        Assert.False(r.IsClean);
    }

    [Fact]
    public void Lost_IsZero_WhenMoreArrivedThanWasOwed()
    {
        var r = Result(QualityOfService.ExactlyOnce);
        r.TotalSent = 50;
        r.TotalExpected = 50;
        r.TotalAccepted = 50;
        r.TotalDelivered = 52;

        Assert.Equal(0, r.Lost);
        Assert.Equal(2, r.Extra);
    }

    [Fact]
    public void Lost_AndAccepted_DoNotExistAtQoS0()
    {
        var r = Result(QualityOfService.AtMostOnce);
        r.TotalSent = 100;
        r.TotalExpected = 100;
        r.TotalDelivered = 60;

        Assert.Null(r.Lost);
        Assert.Null(r.AcceptedBy);
        Assert.Equal(40, r.Missing);
        Assert.True(r.IsClean); // drops are reported, not a failure, at QoS 0
    }

    [Theory]
    [InlineData(QualityOfService.AtLeastOnce, "PUBACK")]
    [InlineData(QualityOfService.ExactlyOnce, "PUBCOMP")]
    public void AcceptedBy_NamesTheAcknowledgementCounted(QualityOfService qos, string packet)
        => Assert.Equal(packet, Result(qos).AcceptedBy);

    [Fact]
    public void Json_CarriesAcceptedLostSeriesAndBrokerRss()
    {
        var r = Result(QualityOfService.AtLeastOnce, Scenario.Pairs);
        r.TotalSent = 1_000;
        r.TotalExpected = 1_000;
        r.TotalAccepted = 1_000;
        r.TotalDelivered = 990;
        r.AcceptedPerSecond = 333.3;
        r.AcceptedPerSecondSeries = [300, 350, 350];
        r.DeliveredPerSecondSeries = [290, 340, 360];
        r.BrokerRss = new RssSummary(10_000_000, 30_000_000, 12_000_000, 5);

        using var json = JsonDocument.Parse(BenchReport.ToJson(r));

        var root = json.RootElement;
        Assert.Equal(1_000, root.GetProperty("accepted").GetInt64());
        Assert.Equal("PUBACK", root.GetProperty("accepted_by").GetString());
        Assert.Equal(333.3, root.GetProperty("accepted_per_s").GetDouble());
        Assert.Equal(10, root.GetProperty("lost").GetInt64());
        Assert.Equal(10, root.GetProperty("missing").GetInt64()); // the fields compare.sh already read stay
        Assert.Equal(990, root.GetProperty("delivered").GetInt64());
        Assert.Equal(1, root.GetProperty("subscribers_per_message").GetInt32());
        Assert.Equal("quiet", root.GetProperty("drain_end").GetString());
        Assert.Equal([290.0, 340.0, 360.0], root.GetProperty("delivered_per_s_series").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal([300.0, 350.0, 350.0], root.GetProperty("accepted_per_s_series").EnumerateArray().Select(e => e.GetDouble()));
        var rss = root.GetProperty("broker_rss");
        Assert.Equal(10_000_000, rss.GetProperty("start").GetInt64());
        Assert.Equal(30_000_000, rss.GetProperty("peak").GetInt64());
        Assert.Equal(12_000_000, rss.GetProperty("end").GetInt64());
        Assert.Equal(2_000_000, rss.GetProperty("growth").GetInt64());
        Assert.Equal(5, rss.GetProperty("samples").GetInt32());
    }

    [Fact]
    public void Json_WithoutBrokerPid_HasNoBrokerRss_AndQoS0_HasNoAcceptedOrLost()
    {
        var r = Result(QualityOfService.AtMostOnce);

        using var json = JsonDocument.Parse(BenchReport.ToJson(r));

        var root = json.RootElement;
        Assert.False(root.TryGetProperty("broker_rss", out _));
        Assert.Equal(JsonValueKind.Null, root.GetProperty("accepted").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("lost").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("accepted_per_s_series").ValueKind);
    }

    [Fact]
    public void Text_ShowsAcceptedLostAndThePerSecondSpread()
    {
        var r = Result(QualityOfService.ExactlyOnce);
        r.SubscribersPerMessage = 2;
        r.TotalSent = 600;
        r.TotalExpected = 1_200;
        r.TotalAccepted = 600;
        r.TotalDelivered = 1_150;
        r.AcceptedPerSecond = 200;
        r.AcceptedPerSecondSeries = [150, 200, 250];
        r.DeliveredPerSecond = 383;
        r.DeliveredPerSecondSeries = [300, 450, 400, 100];
        r.BrokerRss = new RssSummary(8 * 1048576, 20 * 1048576, 9 * 1048576, 4);

        var text = BenchReport.ToText(r);

        Assert.Contains("200 msg/s (PUBCOMP)", text, StringComparison.Ordinal);
        Assert.Contains("per second min 100, median 350, max 450", text, StringComparison.Ordinal);
        Assert.Contains("50 of 1,200 owed (accepted × 2 subscriber(s))", text, StringComparison.Ordinal);
        Assert.Contains("start 8.0 MiB, peak 20.0 MiB, end 9.0 MiB, growth +1.0 MiB", text, StringComparison.Ordinal);
        Assert.Contains("NOT CLEAN", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Spread_OfAnEvenSeries_HasTheMeanOfTheMiddleTwoAsMedian()
    {
        Assert.Equal(new RateSpread(1, 2.5, 9), RateSpread.Of([9, 1, 3, 2]));
        Assert.Equal(new RateSpread(4, 4, 4), RateSpread.Of([4]));
        Assert.Null(RateSpread.Of([]));
    }

    [Fact]
    public void Series_DividesByTheTimeThatReallyPassed()
    {
        var series = new PerSecondSeries();
        var f = System.Diagnostics.Stopwatch.Frequency;
        series.Start(1_000, 10 * f);

        series.Sample(3_000, 11 * f);           // 2 000 in one second
        series.Sample(6_000, 13 * f);           // 3 000 in a timer tick two seconds late
        series.Sample(6_000, 13 * f);           // no time passed: no entry

        Assert.Equal([2_000.0, 1_500.0], series.Rates);
    }
}
