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

    /// Subscribers each message is meant for: 1 in pairs, all of them otherwise.
    public int SubscribersPerMessage { get; set; } = 1;

    /// QoS 1/2 publishes the broker accepted over the whole run (see <see cref="AcceptedBy"/>); null at QoS 0,
    /// which has no acknowledgement.
    public long? TotalAccepted { get; set; }

    /// Accepted publishes per second over the window; null at QoS 0.
    public double? AcceptedPerSecond { get; set; }

    /// The packet that counts a publish as accepted: PUBACK at QoS 1, PUBCOMP at QoS 2 (not PUBREC: only
    /// PUBCOMP ends the exchange). Null at QoS 0.
    public string? AcceptedBy => Options.QoS switch
    {
        QualityOfService.AtLeastOnce => "PUBACK",
        QualityOfService.ExactlyOnce => "PUBCOMP",
        _ => null,
    };

    /// Deliveries owed for what the broker accepted, after the drain: accepted × <see cref="SubscribersPerMessage"/>
    /// less what arrived, never below 0. The broker acknowledged these and no subscriber got them. Counted,
    /// not matched message by message, so a redelivery (<see cref="Extra"/>) can hide a loss. Null at QoS 0.
    public long? Lost => TotalAccepted is { } accepted ? Math.Max(0, (accepted * SubscribersPerMessage) - TotalDelivered) : null;

    /// Delivered messages per second, one entry per whole second of the window (all subscribers).
    public IReadOnlyList<double> DeliveredPerSecondSeries { get; set; } = [];

    /// Accepted publishes per second, one entry per whole second of the window; empty at QoS 0.
    public IReadOnlyList<double> AcceptedPerSecondSeries { get; set; } = [];

    /// How long the subscribers were waited for after the publishers stopped, and why the wait ended (null
    /// in the connection scenario, which has nothing to wait for).
    public double DrainSeconds { get; set; }

    public DrainEnd? DrainEnd { get; set; }

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

    /// The broker's VmRSS sampled once a second from before the clients connect until after they have
    /// closed (with --broker-pid).
    public RssSummary? BrokerRss { get; set; }

    public long? BrokerRssAfter { get; set; }

    /// Broker RSS growth divided by the connections held (connection scenario with --broker-pid).
    public double? BrokerRssPerConnection { get; set; }

    public List<string> Errors { get; } = [];

    /// QoS ≥ 1 run that lost or refused nothing, and no client failed.
    public bool IsClean => Errors.Count == 0 && Rejected == 0
        && (Options.QoS == QualityOfService.AtMostOnce || Missing == 0);
}

/// Why the wait for deliveries after publishing ended.
public enum DrainEnd
{
    /// Everything expected had arrived.
    Complete,

    /// Nothing had arrived for a while: what is missing is taken as never coming.
    Quiet,

    /// The time limit, with deliveries still arriving: some of what counts as lost may only have been late.
    Limit,
}

/// Publish-to-delivery latency over the window, in microseconds.
public sealed record LatencySummary(long Count, double P50, double P90, double P99, double P999, double Max);

public sealed record ConnectionSummary(
    int Requested, int Connected, int Failed, double ConnectSeconds, double ConnectsPerSecond, double HeldSeconds, int OpenAtEnd);
