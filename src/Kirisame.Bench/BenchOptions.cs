using Kirisame.Protocol;

namespace Kirisame.Bench;

public enum Scenario
{
    /// N publishers, one subscriber (wildcard over a topic per publisher, or one shared topic).
    FanIn,

    /// One publisher, N subscribers on its topic.
    FanOut,

    /// N publisher/subscriber pairs, each pair on its own topic.
    Pairs,

    /// Fan-in at a fixed total rate; latency from the send timestamp carried in each payload.
    Latency,

    /// N idle connections: connect rate, then held; broker RSS per connection when its pid is known.
    Connections,
}

public sealed class BenchOptions
{
    public Scenario Scenario { get; set; } = Scenario.FanIn;

    public string Host { get; set; } = "127.0.0.1";

    public int Port { get; set; } = 1883;

    /// Where the subscribers connect, when not to <see cref="Port"/>: another node of a cluster, so that every message
    /// crosses from one node to another (0: the same port).
    public int SubscriberPort { get; set; }

    public QualityOfService QoS { get; set; } = QualityOfService.AtMostOnce;

    public ProtocolVersion Version { get; set; } = ProtocolVersion.V311;

    /// Payload bytes. From 8 bytes on, the first 8 carry the send timestamp (Stopwatch ticks).
    public int PayloadSize { get; set; } = 64;

    /// Null means the scenario's default (see <see cref="Resolve"/>).
    public int? Publishers { get; set; }

    public int? Subscribers { get; set; }

    /// Connections for <see cref="Scenario.Connections"/>.
    public int? Clients { get; set; }

    /// fan-in: every publisher on one topic instead of a topic each.
    public bool SharedTopic { get; set; }

    /// Total messages per second across publishers; 0 = as fast as possible. Null: the scenario's default
    /// (20 000 for latency, 0 otherwise).
    public int? Rate { get; set; }

    /// QoS 1/2 messages a publisher may have unacknowledged (capped by the broker's Receive Maximum in v5).
    /// 64 rather than a handful: real clients keep many messages in flight, and a small window would
    /// measure round trips instead of the broker.
    public int Inflight { get; set; } = 64;

    /// Persistent sessions for publishers and subscribers: the MQTT 5 Session Expiry Interval in seconds, or
    /// in 3.1.1 Clean Session off. 0: sessions end with their connection (a broker stores nothing for them).
    public uint SessionExpiry { get; set; }

    public TimeSpan Duration { get; set; } = TimeSpan.FromSeconds(5);

    public TimeSpan Warmup { get; set; } = TimeSpan.FromSeconds(1);

    /// Connections opened at once in the connection scenario.
    public int ConnectConcurrency { get; set; } = 100;

    /// The connection scenario uses .NET sockets even where its epoll connector could run (tests of both paths).
    internal bool PortableClients { get; set; }

    /// When set, the broker's CPU use over the window is read, and its VmRSS once a second over the run (Linux /proc).
    public int? BrokerPid { get; set; }

    /// The defaults that depend on the scenario, filled in.
    public BenchOptions Resolve()
    {
        var resolved = (BenchOptions)MemberwiseClone();
        resolved.Publishers ??= Scenario switch
        {
            Scenario.FanIn or Scenario.Latency => 4,
            Scenario.FanOut => 1,
            Scenario.Pairs => Subscribers ?? 10,
            _ => 0,
        };
        resolved.Subscribers ??= Scenario switch
        {
            Scenario.FanOut => 10,
            Scenario.Pairs => resolved.Publishers,
            Scenario.Connections => 0,
            _ => 1,
        };
        resolved.Clients ??= Scenario == Scenario.Connections ? 1000 : 0;
        resolved.Rate ??= Scenario == Scenario.Latency ? 20_000 : 0;
        return resolved;
    }

    /// Problems that make a run meaningless, in words an operator can act on.
    public List<string> Validate()
    {
        var errors = new List<string>();
        var o = Resolve();
        if (o.Port is <= 0 or > 65535)
            errors.Add($"--port {o.Port} is not a TCP port.");
        if (o.SubscriberPort is < 0 or > 65535)
            errors.Add($"--subscriber-port {o.SubscriberPort} is not a TCP port.");
        if (o.PayloadSize is < 0 or > 10_000_000)
            errors.Add($"--payload {o.PayloadSize}: use 0 to 10 000 000 bytes.");
        if (o.Version is not (ProtocolVersion.V311 or ProtocolVersion.V500))
            errors.Add("--mqtt must be 3.1.1 or 5.");
        if (o.Inflight is < 1 or > 65535)
            errors.Add($"--inflight {o.Inflight}: use 1 to 65535.");
        if (o.Rate < 0)
            errors.Add("--rate must not be negative.");
        if (o.Duration <= TimeSpan.Zero)
            errors.Add("--duration must be positive.");
        if (o.Warmup < TimeSpan.Zero)
            errors.Add("--warmup must not be negative.");
        if (o.ConnectConcurrency < 1)
            errors.Add("--connect-concurrency must be at least 1.");
        switch (o.Scenario)
        {
            case Scenario.Connections:
                if (o.Clients is < 1 or > 1_000_000)
                    errors.Add("--clients: use 1 to 1 000 000 connections.");
                break;
            case Scenario.Pairs:
                if (o.Publishers < 1 || o.Publishers != o.Subscribers)
                    errors.Add("pairs needs as many publishers as subscribers (give one of them, or --clients).");
                break;
            default:
                if (o.Publishers < 1 || o.Subscribers < 1)
                    errors.Add("--publishers and --subscribers must be at least 1.");
                break;
        }

        if (o.Scenario == Scenario.Latency && (o.Rate == 0 || o.PayloadSize < 8))
            errors.Add("latency needs --rate > 0 and --payload of at least 8 bytes (the timestamp).");
        return errors;
    }
}
