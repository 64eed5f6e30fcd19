using System.Diagnostics;
using Kirisame.Broker.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kirisame.Server.Memory;

/// Gives the GC heap's spare memory back after start-up and after bursts (<see cref="HeapTrimPolicy"/>, docs/adr/0012):
/// a blocking, compacting collection of every generation that also decommits what it frees (GCCollectionMode.Aggressive).
/// The process's owner decides this, not the broker library: an embedding application keeps its own GC policy.
/// KIRISAME_NO_HEAP_TRIM=1 turns it off (to measure with one build).
internal sealed partial class HeapTrim(ILogger<HeapTrim> logger) : IHostedLifecycleService, IDisposable
{
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);
    private readonly bool _enabled = Environment.GetEnvironmentVariable("KIRISAME_NO_HEAP_TRIM") != "1";
    private HeapTrimPolicy? _policy;
    private ITimer? _timer;
    private int _ticking;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// Once every listener is bound: start-up's garbage (configuration, dependency injection, the management
    /// endpoints) is given back at once, so that an idle broker starts small and what a burst of connects adds is
    /// measured from there.
    public Task StartedAsync(CancellationToken cancellationToken)
    {
        if (!_enabled)
            return Task.CompletedTask;
        Trim("at start-up");
        // Made after it: start-up's trim is small (~5 MiB of heap, 20–120 ms) and does not hold back the first burst's.
        _policy = new HeapTrimPolicy(TimeProvider.System, GC.GetTotalAllocatedBytes());
        _timer = TimeProvider.System.CreateTimer(static state => ((HeapTrim)state!).OnTick(), this, Tick, Tick);
        return Task.CompletedTask;
    }

    private void OnTick()
    {
        // A tick that comes while the last one still runs (a long pause) is skipped: the policy is not shared.
        if (Interlocked.Exchange(ref _ticking, 1) != 0)
            return;
        try
        {
            var info = GC.GetGCMemoryInfo();
            if (_policy!.ShouldTrim(GC.GetTotalAllocatedBytes(), info.TotalCommittedBytes, info.HeapSizeBytes - info.FragmentedBytes))
                Trim("after a burst");
        }
        finally
        {
            Volatile.Write(ref _ticking, 0);
        }
    }

    private void Trim(string when)
    {
        var before = GC.GetGCMemoryInfo().TotalCommittedBytes;
        var started = Stopwatch.GetTimestamp();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var pause = Stopwatch.GetElapsedTime(started);
        var after = GC.GetGCMemoryInfo().TotalCommittedBytes;
        _policy?.Trimmed(GC.GetTotalAllocatedBytes());
        LogTrimmed(logger, when, (before - after) / (1024.0 * 1024), after / (1024.0 * 1024), pause.TotalMilliseconds);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken)
    {
        _timer?.Dispose();
        return Task.CompletedTask;
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _timer?.Dispose();

    [LoggerMessage(Level = LogLevel.Debug, Message = "Heap trimmed {When}: {Freed:F1} MiB given back, {Committed:F1} MiB committed, {PauseMs:F0} ms pause")]
    private static partial void LogTrimmed(ILogger logger, string when, double freed, double committed, double pauseMs);
}
