using System.Diagnostics.Metrics;

namespace Kirisame.Broker.Tests;

/// Listens to one broker's `Kirisame` meter (other tests' brokers run in parallel with meters of the same name)
/// and answers "how much, with these tags": counters summed as they come, observable instruments read afresh.
internal sealed class MetricsRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Lock _lock = new();
    private readonly List<(string Instrument, KeyValuePair<string, object?>[] Tags, double Value)> _counted = [];
    private List<(string Instrument, KeyValuePair<string, object?>[] Tags, double Value)> _observed = [];

    public MetricsRecorder(Meter meter)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter == meter)
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    public static MetricsRecorder For(MqttBroker broker) => new(broker.Metrics.Meter);

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        lock (_lock)
        {
            var entry = (instrument.Name, tags.ToArray(), value);
            if (instrument.IsObservable)
                _observed.Add(entry);
            else
                _counted.Add(entry);
        }
    }

    /// The instrument's value summed over the measurements whose tags include <paramref name="tags"/> (given as
    /// "key=value"): for an observable instrument its current value, for a counter what was added since listening.
    public double Value(string instrument, params string[] tags)
    {
        lock (_lock)
            _observed = [];
        _listener.RecordObservableInstruments();
        lock (_lock)
        {
            return _counted.Concat(_observed)
                .Where(m => m.Instrument == instrument && tags.All(t => m.Tags.Any(kv => $"{kv.Key}={kv.Value}" == t)))
                .Sum(m => m.Value);
        }
    }

    /// Whether the instrument reported anything at all (to tell "0" from "not published").
    public bool Reports(string instrument)
    {
        _listener.RecordObservableInstruments();
        lock (_lock)
            return _counted.Concat(_observed).Any(m => m.Instrument == instrument);
    }

    public void Dispose() => _listener.Dispose();
}
