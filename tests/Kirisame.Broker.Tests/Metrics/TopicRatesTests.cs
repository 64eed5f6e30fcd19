using Kirisame.Broker.Diagnostics;
using Microsoft.Extensions.Time.Testing;

namespace Kirisame.Broker.Tests.Metrics;

/// Per-topic rates for the topic tree: exact at light load, sampled and scaled back at heavy load, bounded in
/// the topics they track. Driven on one thread with a clock the test moves (which also ends the windows).
public sealed class TopicRatesTests
{
    private static readonly TimeSpan s_window = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _time = new();

    private TopicRates Create(int capacity = 100) => new(capacity, s_window, _time);

    private void Publish(TopicRates rates, string topic, int times)
    {
        for (var i = 0; i < times; i++)
            rates.Published(topic);
    }

    private void EndWindow() => _time.Advance(s_window);

    [Fact]
    public void BeforeAWindowEnds_ThereAreNoRates()
    {
        using var rates = Create();
        Publish(rates, "a", 10);

        Assert.Empty(rates.Snapshot().PerSecond);
    }

    [Fact]
    public void AtLightLoad_EveryMessageIsCounted()
    {
        using var rates = Create();
        Publish(rates, "kitchen/temperature", 50);
        Publish(rates, "kitchen/humidity", 10);
        EndWindow();

        var snapshot = rates.Snapshot();

        Assert.Equal(1, snapshot.SampleInterval);
        Assert.Equal(5.0, snapshot.PerSecond["kitchen/temperature"], 6);
        Assert.Equal(1.0, snapshot.PerSecond["kitchen/humidity"], 6);
        Assert.Equal(0, snapshot.UntrackedPerSecond);
    }

    [Fact]
    public void TopicsBeyondTheCapacity_AreCountedAsUntracked()
    {
        using var rates = Create(capacity: 2);
        Publish(rates, "a", 10);
        Publish(rates, "b", 10);
        Publish(rates, "c", 30);
        EndWindow();

        var snapshot = rates.Snapshot();

        Assert.Equal(["a", "b"], snapshot.PerSecond.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(3.0, snapshot.UntrackedPerSecond, 6);
    }

    [Fact]
    public void AWindowWithNothingPublished_ShowsNothing()
    {
        using var rates = Create();
        Publish(rates, "a", 10);
        EndWindow();
        Assert.NotEmpty(rates.Snapshot().PerSecond);

        EndWindow();

        Assert.Empty(rates.Snapshot().PerSecond);
    }

    [Fact]
    public void AtHeavyLoad_OneInManyIsSampled_AndTheRatesAreScaledBack()
    {
        using var rates = Create();
        Publish(rates, "warm-up", 400_000); // counted one by one; sets the next window's interval to 40
        EndWindow();
        Assert.Equal(40_000, rates.Snapshot().PerSecond["warm-up"], 6);

        // Two topics in strict alternation: a fixed stride of an even interval would only ever see one of them.
        for (var i = 0; i < 200_000; i++)
        {
            rates.Published("even");
            rates.Published("odd");
        }

        Publish(rates, "hot", 300_000);
        EndWindow();
        var snapshot = rates.Snapshot();

        Assert.True(snapshot.SampleInterval > 1, $"sampled one in {snapshot.SampleInterval}");
        Assert.InRange(snapshot.PerSecond["even"], 18_000, 22_000);
        Assert.InRange(snapshot.PerSecond["odd"], 18_000, 22_000);
        Assert.InRange(snapshot.PerSecond["hot"], 27_000, 33_000);
    }

    [Fact]
    public void WhenTheLoadFalls_EveryMessageIsCountedAgain()
    {
        using var rates = Create();
        Publish(rates, "burst", 400_000);
        EndWindow();
        Publish(rates, "burst", 400_000);
        EndWindow();
        Assert.True(rates.Snapshot().SampleInterval > 1);

        Publish(rates, "calm", 100);
        EndWindow();
        Publish(rates, "calm", 70);
        EndWindow();

        var snapshot = rates.Snapshot();
        Assert.Equal(1, snapshot.SampleInterval);
        Assert.Equal(7.0, snapshot.PerSecond["calm"], 6);
    }
}
