using Kirisame.Bench.Measurement;
using Kirisame.Protocol;

namespace Kirisame.Bench;

public sealed class BenchResult
{
    public required BenchOptions Options { get; init; }

    /// Length of the measurement window (after warm-up) in seconds.
    public double WindowSeconds { get; set; }

    /// PUBLISH packets written by the publishers during the window, per second.
    public double SentPerSecond { get; set; }

    /// PUBLISH packets received by the subscribers during the window, per second (all subscribers).
    public double DeliveredPerSecond { get; set; }

    /// Over the whole run (warm-up included) after draining: what the subscribers should have received
    /// (sent × subscribers matching each topic), what they did receive, and the difference.
    public long TotalSent { get; set; }

    public long TotalExpected { get; set; }

    public long TotalDelivered { get; set; }

    /// Expected but not delivered. For QoS 1/2 anything but 0 is a broker bug; for QoS 0 these are drops.
    public long Missing => Math.Max(0, TotalExpected - TotalDelivered);

    /// Delivered beyond what was expected (QoS 1 redeliveries, or a broker bug).
    public long Extra => Math.Max(0, TotalDelivered - TotalExpected);

    /// QoS 1/2 publishes the broker refused with a failure reason code (v5).
    public long Rejected { get; set; }

    public LatencySummary? Latency { get; set; }

    public ConnectionSummary? Connections { get; set; }

    public CpuUse GeneratorCpu { get; set; }

    /// Bytes the generator allocated during the window; per message it should be about zero, or the
    /// generator's own GC would be part of what is measured.
    public long GeneratorAllocatedBytes { get; set; }

    public double GeneratorAllocatedPerMessage
        => WindowSeconds > 0 && SentPerSecond + DeliveredPerSecond > 0
            ? GeneratorAllocatedBytes / ((SentPerSecond + DeliveredPerSecond) * WindowSeconds)
            : 0;

    /// Broker CPU during the window (connection scenario: while connecting), in cores; with --broker-pid.
    public double? BrokerBusyCores { get; set; }

    public long? BrokerRssBefore { get; set; }

    public long? BrokerRssAfter { get; set; }

    /// Broker RSS growth divided by the connections held (connection scenario with --broker-pid).
    public double? BrokerRssPerConnection { get; set; }

    public List<string> Errors { get; } = [];

    /// QoS ≥ 1 run that lost or refused nothing, and no client failed.
    public bool IsClean => Errors.Count == 0 && Rejected == 0
        && (Options.QoS == QualityOfService.AtMostOnce || Missing == 0);
}

/// Publish-to-delivery latency over the window, in microseconds.
public sealed record LatencySummary(long Count, double P50, double P90, double P99, double P999, double Max);

public sealed record ConnectionSummary(
    int Requested, int Connected, int Failed, double ConnectSeconds, double ConnectsPerSecond, double HeldSeconds, int OpenAtEnd);
