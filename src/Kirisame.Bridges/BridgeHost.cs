using System.Diagnostics.Metrics;
using Kirisame.Broker;
using Microsoft.Extensions.Logging;

namespace Kirisame.Bridges;

/// The configured bridges of a server: started with the broker, stopped before it. Their instruments are on the
/// `Kirisame` meter (docs/metrics.md), tagged with the bridge's name (configuration, so a bounded set).
internal sealed class BridgeHost(IReadOnlyList<BridgeOptions> bridges) : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _running = [];
    private readonly List<BridgeStatus> _statuses = [.. bridges.Select(b => new BridgeStatus(b.Name))];
    private Meter? _meter;

    public IReadOnlyList<BridgeStatus> Statuses => _statuses;

    public void Start(MqttBroker broker, ILoggerFactory loggers)
    {
        if (bridges.Count == 0)
            return;
        _meter = new Meter("Kirisame", MqttBroker.Version);
        _meter.CreateObservableUpDownCounter("kirisame.bridge.connected", () => Each(s => s.IsConnected ? 1L : 0L), "{connection}",
            "1 while the bridge is connected to its remote broker, else 0 (tag bridge)");
        _meter.CreateObservableCounter("kirisame.bridge.messages.forwarded", () => _statuses.SelectMany(s => new[]
        {
            new Measurement<long>(Interlocked.Read(ref s.ForwardedOut), new("bridge", s.Name), new("direction", "out")),
            new Measurement<long>(Interlocked.Read(ref s.ForwardedIn), new("bridge", s.Name), new("direction", "in")),
        }), "{message}", "Messages forwarded to the remote (out, acknowledged by it for QoS 1/2) and from it (in)");
        _meter.CreateObservableCounter("kirisame.bridge.connects", () => Each(s => Interlocked.Read(ref s.Connects)), "{connection}",
            "Connections made to the remote broker, since start (more than one: reconnects)");
        _meter.CreateObservableCounter("kirisame.bridge.connect.failures", () => Each(s => Interlocked.Read(ref s.ConnectFailures)), "{attempt}",
            "Attempts to connect to a remote address that failed");
        var logger = loggers.CreateLogger("Kirisame.Bridges");
        for (var i = 0; i < bridges.Count; i++)
        {
            var bridge = new Bridge(bridges[i], broker, _statuses[i], logger);
            _running.Add(Task.Run(() => bridge.RunAsync(_stop.Token)));
        }
    }

    private IEnumerable<Measurement<long>> Each(Func<BridgeStatus, long> value) =>
        _statuses.Select(s => new Measurement<long>(value(s), new KeyValuePair<string, object?>("bridge", s.Name)));

    /// Disconnects every bridge (the remote gets DISCONNECT; the local sessions stay for the next start).
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_running).WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            // Shutting down regardless: the broker's stop closes what is left.
        }
    }

    public void Dispose()
    {
        _stop.Dispose();
        _meter?.Dispose();
    }
}
