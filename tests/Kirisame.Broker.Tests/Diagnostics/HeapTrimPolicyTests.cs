using Kirisame.Broker.Diagnostics;
using Microsoft.Extensions.Time.Testing;

namespace Kirisame.Broker.Tests.Diagnostics;

public sealed class HeapTrimPolicyTests
{
    private const long MiB = 1 << 20;

    // What the server saw after 15,000 connects: 36.6 MiB committed, 24.4 MiB in use after the last collection.
    private const long BurstCommitted = 36_600_000;
    private const long BurstInUse = 24_400_000;

    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void A_quiet_second_after_a_burst_trims()
    {
        var policy = new HeapTrimPolicy(_time, allocatedNow: 0);

        Assert.False(policy.ShouldTrim(40 * MiB, BurstCommitted, BurstInUse)); // still connecting: 40 MiB this second
        Assert.True(policy.ShouldTrim(40 * MiB + 100_000, BurstCommitted, BurstInUse));
    }

    [Fact]
    public void A_busy_broker_is_not_trimmed_however_much_is_spare()
    {
        var policy = new HeapTrimPolicy(_time, allocatedNow: 0);
        long allocated = 0;
        for (var second = 0; second < 120; second++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            allocated += 2 * MiB;
            Assert.False(policy.ShouldTrim(allocated, 100 * MiB, 10 * MiB));
        }
    }

    [Fact]
    public void Little_spare_memory_is_not_worth_a_collection()
    {
        var policy = new HeapTrimPolicy(_time, allocatedNow: 0);

        Assert.False(policy.ShouldTrim(0, 6 * MiB, 3 * MiB)); // a fresh broker: 3 MiB spare, under the 4 MiB floor
        Assert.False(policy.ShouldTrim(0, 200 * MiB, 170 * MiB)); // 30 MiB spare, but 15 % of what is committed
        Assert.True(policy.ShouldTrim(0, 200 * MiB, 150 * MiB)); // 25 %
    }

    [Fact]
    public void At_most_one_trim_a_minute()
    {
        var policy = new HeapTrimPolicy(_time, allocatedNow: 0);
        Assert.True(policy.ShouldTrim(0, BurstCommitted, BurstInUse));
        policy.Trimmed(allocatedNow: 0);

        _time.Advance(HeapTrimPolicy.MinInterval - TimeSpan.FromSeconds(1));
        Assert.False(policy.ShouldTrim(0, BurstCommitted, BurstInUse));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(policy.ShouldTrim(0, BurstCommitted, BurstInUse));
    }
}
