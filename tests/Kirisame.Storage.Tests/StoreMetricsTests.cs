using System.Diagnostics.Metrics;
using Kirisame.Broker.Storage;

namespace Kirisame.Storage.Tests;

/// The store's part of the `Kirisame` meter: each group commit's duration and size.
public sealed class StoreMetricsTests
{
    [Fact]
    public async Task EachGroupCommit_RecordsItsDurationAndOperations()
    {
        using var folder = new TempFolder();
        await using var store = Samples.Open(folder.Path, Samples.Clock());
        var durations = new List<double>();
        var operations = new List<long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == store.Meter)
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
        {
            if (instrument.Name == "kirisame.store.commit.duration")
            {
                lock (durations)
                    durations.Add(value);
            }
        });
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name == "kirisame.store.commit.operations")
            {
                lock (operations)
                    operations.Add(value);
            }
        });
        listener.Start();

        store.PutSession(new SessionRecord("c1", 3600));
        store.PutSubscription("c1", Samples.Subscription("a/b"));
        await Samples.DurableAsync(store);

        lock (durations)
        {
            Assert.NotEmpty(durations);
            Assert.All(durations, d => Assert.True(d > 0 && d < 60, $"a commit took {d} s"));
        }

        lock (operations)
            Assert.Equal(2, operations.Sum());
    }
}
