using System.Globalization;
using Kirisame.Protocol;

namespace Kirisame.Bench;

/// The `kirisame bench` command line, kept next to the engine so the server stays a composition root
/// and the option vocabulary is tested with the engine.
public sealed class BenchArguments
{
    public BenchOptions Options { get; } = new();

    public bool Json { get; private set; }

    public bool Help { get; private set; }

    /// `--null-forwarder`: serve as the null forwarder on --host/--port instead of generating load.
    public bool NullForwarder { get; private set; }

    public List<string> Errors { get; } = [];

    public const string Usage = """
        kirisame bench — load generator (like emqtt-bench); run it against Kirisame or any MQTT broker

        Usage:
          kirisame bench --scenario fanin|fanout|pairs|latency|conn [options]
          kirisame bench --null-forwarder [--host HOST] [--port N]

        Scenarios:
          fanin      N publishers → 1 subscriber (a topic per publisher, or --shared-topic)
          fanout     1 publisher → N subscribers
          pairs      N publisher/subscriber pairs, each on its own topic
          latency    fan-in at a fixed total --rate; p50/p99/p99.9 from a timestamp in the payload
          conn       N idle connections: connect rate, then held for --duration; with --broker-pid,
                     the broker's RSS per connection

        Options:
          --host HOST            broker address (default 127.0.0.1)
          --port N               broker port (default 1883)
          --subscriber-port N    the subscribers connect here instead (another node of a cluster:
                                 every message then crosses between nodes)
          --mqtt 3.1.1|5         protocol version (default 3.1.1)
          --qos 0|1|2            publish and subscribe QoS (default 0)
          --payload BYTES        payload size (default 64; ≥ 8 carries the latency timestamp)
          --clients N            the scenario's N: publishers (fanin, latency), subscribers (fanout),
                                 pairs (pairs), connections (conn)
          --publishers N         publishers (default fanin/latency 4, fanout 1, pairs 10)
          --subscribers N        subscribers (default fanin/latency 1, fanout 10)
          --shared-topic         fanin/latency: all publishers on one topic
          --rate N               total msg/s across publishers (default: latency 20000, others 0 =
                                 as fast as possible)
          --inflight N           QoS 1/2 unacknowledged messages per publisher (default 64)
          --session-expiry S     persistent sessions: MQTT 5 Session Expiry Interval S seconds, 3.1.1
                                 Clean Session off (default 0: sessions end with the connection)
          --duration S           measured seconds (default 5); conn: seconds to hold
          --warmup S             seconds before measuring (default 1)
          --connect-concurrency N  conn: handshakes in progress at once (default 100)
          --broker-pid PID       report the broker's CPU use (/proc/PID/stat) and its VmRSS (/proc/PID/status),
                                 sampled once a second over the run: start, peak, end and growth
          --json                 print the result as JSON
          --null-forwarder       no load: listen on --host/--port as a null forwarder (answers CONNECT,
                                 SUBSCRIBE, PINGREQ; copies each QoS 0 PUBLISH to every subscriber and does
                                 nothing else), the limit a broker's fan-in can be held against; runs
                                 until interrupted (Linux x86-64)
          -h, --help             show this help

        QoS 1/2 reports: accepted (PUBACK at QoS 1, PUBCOMP at QoS 2), delivered (all subscribers, against
        accepted × the subscribers each message is for) and lost (accepted, and not delivered after waiting up
        to 10 s once publishing stopped); delivered msg/s per second of the window: min, median and max.

        Exit code: 0 when the run was clean (QoS ≥ 1: nothing lost), 1 otherwise, 2 on bad options.
        """;

    public static BenchArguments Parse(IReadOnlyList<string> args)
    {
        var result = new BenchArguments();
        var o = result.Options;
        int? clients = null;
        var scenarioGiven = false;
        for (var i = 0; i < args.Count; i++)
        {
            var token = args[i];
            if (token is "-h" or "--help" or "-?")
            {
                result.Help = true;
                return result;
            }

            if (!token.StartsWith("--", StringComparison.Ordinal))
            {
                result.Errors.Add($"Unexpected argument '{token}'.");
                continue;
            }

            var name = token[2..];
            string? inlineValue = null;
            var equals = name.IndexOf('=', StringComparison.Ordinal);
            if (equals >= 0)
            {
                inlineValue = name[(equals + 1)..];
                name = name[..equals];
            }

            switch (name)
            {
                case "json":
                    result.Json = true;
                    continue;
                case "shared-topic":
                    o.SharedTopic = true;
                    continue;
                case "null-forwarder":
                    result.NullForwarder = true;
                    continue;
            }

            var value = inlineValue ?? (i + 1 < args.Count ? args[++i] : null);
            if (value is null)
            {
                result.Errors.Add($"Option '--{name}' needs a value.");
                continue;
            }

            switch (name)
            {
                case "scenario":
                    scenarioGiven = true;
                    if (ParseScenario(value) is { } scenario)
                        o.Scenario = scenario;
                    else
                        result.Errors.Add($"Unknown scenario '{value}': use fanin, fanout, pairs, latency or conn.");
                    break;
                case "host":
                    o.Host = value;
                    break;
                case "port":
                    o.Port = result.Int(name, value, 1, 65535);
                    break;
                case "subscriber-port":
                    o.SubscriberPort = result.Int(name, value, 1, 65535);
                    break;
                case "mqtt":
                    o.Version = value switch
                    {
                        "3.1.1" or "311" or "4" => ProtocolVersion.V311,
                        "5" or "5.0" => ProtocolVersion.V500,
                        _ => result.Invalid(name, value, ProtocolVersion.V311),
                    };
                    break;
                case "qos":
                    o.QoS = (QualityOfService)result.Int(name, value, 0, 2);
                    break;
                case "payload":
                    o.PayloadSize = result.Int(name, value, 0, 10_000_000);
                    break;
                case "clients":
                    clients = result.Int(name, value, 1, 1_000_000);
                    break;
                case "publishers":
                    o.Publishers = result.Int(name, value, 1, 100_000);
                    break;
                case "subscribers":
                    o.Subscribers = result.Int(name, value, 1, 100_000);
                    break;
                case "rate":
                    o.Rate = result.Int(name, value, 0, int.MaxValue);
                    break;
                case "inflight":
                    o.Inflight = result.Int(name, value, 1, 65535);
                    break;
                case "session-expiry":
                    o.SessionExpiry = (uint)result.Int(name, value, 0, int.MaxValue);
                    break;
                case "duration":
                    o.Duration = result.Seconds(name, value, allowZero: false);
                    break;
                case "warmup":
                    o.Warmup = result.Seconds(name, value, allowZero: true);
                    break;
                case "connect-concurrency":
                    o.ConnectConcurrency = result.Int(name, value, 1, 100_000);
                    break;
                case "broker-pid":
                    o.BrokerPid = result.Int(name, value, 1, int.MaxValue);
                    break;
                default:
                    result.Errors.Add($"Unknown option '--{name}'.");
                    break;
            }
        }

        if (result.NullForwarder)
        {
            if (scenarioGiven)
                result.Errors.Add("--null-forwarder generates no load: give it no --scenario.");
            return result;
        }

        if (!scenarioGiven && result.Errors.Count == 0)
            result.Errors.Add("Say which scenario: --scenario fanin|fanout|pairs|latency|conn.");
        if (clients is { } n)
        {
            switch (o.Scenario)
            {
                case Scenario.Connections:
                    o.Clients = n;
                    break;
                case Scenario.FanOut:
                    o.Subscribers ??= n;
                    break;
                case Scenario.Pairs:
                    o.Publishers ??= n;
                    o.Subscribers ??= n;
                    break;
                default:
                    o.Publishers ??= n;
                    break;
            }
        }

        if (result.Errors.Count == 0)
            result.Errors.AddRange(o.Validate());
        return result;
    }

    private static Scenario? ParseScenario(string value) => value.ToLowerInvariant() switch
    {
        "fanin" or "fan-in" => Scenario.FanIn,
        "fanout" or "fan-out" => Scenario.FanOut,
        "pairs" => Scenario.Pairs,
        "latency" => Scenario.Latency,
        "conn" or "connections" => Scenario.Connections,
        _ => null,
    };

    private int Int(string name, string value, int min, int max)
    {
        if (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max)
            return n;
        Errors.Add($"--{name} '{value}': expected a whole number from {min} to {max}.");
        return min;
    }

    private TimeSpan Seconds(string name, string value, bool allowZero)
    {
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && (s > 0 || (allowZero && s == 0)) && s <= 86_400)
            return TimeSpan.FromSeconds(s);
        Errors.Add($"--{name} '{value}': expected seconds, {(allowZero ? "0" : "more than 0")} to 86400.");
        return TimeSpan.FromSeconds(1);
    }

    private T Invalid<T>(string name, string value, T fallback)
    {
        Errors.Add($"--{name} '{value}' is not valid.");
        return fallback;
    }
}
