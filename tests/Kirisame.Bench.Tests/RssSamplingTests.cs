using Kirisame.Bench.Measurement;
using Kirisame.Testing;

namespace Kirisame.Bench.Tests;

/// --broker-pid's memory figures: the VmRSS line of /proc/PID/status, and start, peak, end and growth of
/// the samples taken over a run.
public sealed class RssSamplingTests
{
    private const string Status = """
        Name:	mosquitto
        Umask:	0022
        State:	S (sleeping)
        Pid:	4242
        VmPeak:	   20528 kB
        VmSize:	   20464 kB
        VmHWM:	    9000 kB
        VmRSS:	    7368 kB
        RssAnon:	     912 kB
        Threads:	1
        """;

    [Fact]
    public void ParseVmRss_ReadsTheVmRssLine_InBytes()
        => Assert.Equal(7368L * 1024, BrokerProcess.ParseVmRss(Status));

    [Theory]
    [InlineData("Name:\tkthreadd\nState:\tS (sleeping)\nThreads:\t1\n")] // a kernel thread has no VmRSS
    [InlineData("VmRSS:\t   many kB\n")]
    [InlineData("VmRSS:\t    7368 MB\n")]
    [InlineData("VmRSS:\t    7368\n")]
    [InlineData("")]
    public void ParseVmRss_WithoutAReadableLine_IsNull(string status)
        => Assert.Null(BrokerProcess.ParseVmRss(status));

    [Fact]
    public void ParseVmRss_AcceptsATabBeforeTheUnit()
        => Assert.Equal(12L * 1024, BrokerProcess.ParseVmRss("VmRSS:\t12\tkB\n"));

    [Fact]
    public void Track_GivesStartPeakEndAndGrowth()
    {
        var track = new RssTrack();
        Assert.Null(track.Summary);

        foreach (var bytes in new long[] { 100, 400, 250, 130 })
            track.Add(bytes);

        var summary = Assert.IsType<RssSummary>(track.Summary);
        Assert.Equal(new RssSummary(100, 400, 130, 4), summary);
        Assert.Equal(30, summary.Growth);
    }

    [Fact]
    public void Track_GrowthIsNegative_WhenTheProcessGaveMemoryBack()
    {
        var track = new RssTrack();
        track.Add(500);
        track.Add(200);

        Assert.Equal(-300, track.Summary!.Growth);
    }

    [Fact]
    public async Task Sampler_ReadsAtStartAndStop_AndSkipsSamplesThatCannotBeRead()
    {
        var readings = new Queue<long?>([1_000, null, 3_000]);
        await using var sampler = new RssSampler(() => readings.Count > 0 ? readings.Dequeue() : null);
        Assert.Equal(1_000, sampler.First);

        var summary = await sampler.StopAsync();

        // Stopping right away: the first reading and the closing one (unreadable, so skipped).
        Assert.Equal(new RssSummary(1_000, 1_000, 1_000, 1), summary);
    }

    [Fact]
    public async Task Sampler_OfThisProcess_SamplesOnceASecond()
    {
        await using var sampler = RssSampler.Start(Environment.ProcessId);

        // The first reading and two ticks of the one-second timer; stopping adds one more.
        Assert.True(await Poll.UntilAsync(() => sampler.SamplesSoFar >= 3, TimeSpan.FromSeconds(30)), $"{sampler.SamplesSoFar} samples");

        var summary = await sampler.StopAsync();
        Assert.NotNull(summary);
        Assert.True(summary.Samples >= 4, $"{summary.Samples} samples");
        Assert.True(summary.Start > 0 && summary.End > 0);
        Assert.True(summary.Peak >= Math.Max(summary.Start, summary.End));
    }
}
