using Kirisame.Bench.Measurement;

namespace Kirisame.Bench.Tests;

public sealed class LatencyHistogramTests
{
    [Theory]
    [InlineData(0L)]
    [InlineData(127L)]
    [InlineData(128L)]
    [InlineData(1_000L)]
    [InlineData(123_456_789L)]
    [InlineData(long.MaxValue / 2)]
    public void Bucket_Midpoint_IsWithinOneSixtyFourthOfTheValue(long value)
    {
        var midpoint = LatencyHistogram.MidpointOf(LatencyHistogram.IndexOf(value));

        Assert.InRange(Math.Abs(midpoint - value), 0, Math.Max(1, value / 64));
    }

    [Fact]
    public void Buckets_AreOrdered()
    {
        var previous = -1;
        for (long v = 0; v < 1_000_000; v += 7)
        {
            var index = LatencyHistogram.IndexOf(v);
            Assert.True(index >= previous);
            previous = index;
        }
    }

    [Fact]
    public void Percentiles_OfAUniformSpread()
    {
        var h = new LatencyHistogram();
        for (var v = 1; v <= 10_000; v++)
            h.Record(v);

        Assert.InRange(h.Percentile(0.5), 4_900, 5_100);
        Assert.InRange(h.Percentile(0.99), 9_750, 10_000);
        Assert.Equal(10_000, h.Percentile(1.0));
        Assert.Equal(10_000, h.Count);
    }

    [Fact]
    public void Merge_AddsCounts()
    {
        var a = new LatencyHistogram();
        var b = new LatencyHistogram();
        a.Record(10);
        b.Record(1_000);
        b.Record(2_000);

        a.Add(b);

        Assert.Equal(3, a.Count);
        Assert.Equal(2_000, a.Max);
        Assert.Equal(10, a.Percentile(0.1));
    }
}
