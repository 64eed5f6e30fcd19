using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Kirisame.Storage.RocksDb;

/// The store's instruments, in the broker's `Kirisame` meter by name (docs/metrics.md): a listener that enables
/// "Kirisame" gets both. The store keeps a Meter of its own rather than borrowing the broker's: it is opened
/// before the broker exists, and the broker knows nothing of RocksDB.
public sealed partial class RocksDbStore
{
    private Meter? _meter;
    private Histogram<double>? _commitDuration;
    private Histogram<long>? _commitOperations;

    /// This store's instruments (for tests: other stores in the process have meters of the same name).
    internal Meter? Meter => _meter;

    private void CreateInstruments()
    {
        _meter = new Meter(_options.MeterName, typeof(RocksDbStore).Assembly.GetName().Version?.ToString(3));
        _commitDuration = _meter.CreateHistogram("kirisame.store.commit.duration", "s",
            "Time a group commit took: building its WriteBatch and writing it (with the fsync in durability sync), retries included",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] });
        _commitOperations = _meter.CreateHistogram<long>("kirisame.store.commit.operations", "{operation}",
            "Operations (session, queue and retained changes) written by one group commit");
        _meter.CreateObservableCounter("kirisame.store.write.failures", () => WriteFailures, "{attempt}",
            "Failed write attempts (each retry counts); while they fail the broker refuses QoS 1/2 messages");
        _meter.CreateObservableGauge("kirisame.store.healthy", () => _healthy ? 1 : 0, "1",
            "1 while the store writes, 0 after a write failed until a retry succeeds");
    }

    /// After a group commit written: how long it took since <paramref name="startedAt"/> (a Stopwatch timestamp).
    private void Committed(long startedAt, int operations)
    {
        _commitDuration?.Record(Stopwatch.GetElapsedTime(startedAt).TotalSeconds);
        _commitOperations?.Record(operations);
    }

    private void DisposeInstruments() => _meter?.Dispose();
}
