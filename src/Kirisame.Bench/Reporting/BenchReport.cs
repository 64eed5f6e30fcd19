using System.Globalization;
using System.Text;
using System.Text.Json;
using Kirisame.Bench.Measurement;
using Kirisame.Protocol;

namespace Kirisame.Bench.Reporting;

/// The two renderings of a result: an aligned table for people, JSON for scripts (compare.sh reads it).
public static class BenchReport
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string ScenarioName(Scenario scenario) => scenario switch
    {
        Scenario.FanIn => "fanin",
        Scenario.FanOut => "fanout",
        Scenario.Pairs => "pairs",
        Scenario.Latency => "latency",
        Scenario.Connections => "conn",
        _ => scenario.ToString(),
    };

    public static string VersionName(ProtocolVersion version) => version == ProtocolVersion.V500 ? "5" : "3.1.1";

    public static string ToText(BenchResult r)
    {
        var o = r.Options;
        var rows = new List<(string Name, string Value)>();
        var shape = o.Scenario switch
        {
            Scenario.Connections => $"{o.Clients} idle connections",
            Scenario.Pairs => $"{o.Publishers} pairs",
            _ => $"{o.Publishers} publisher(s) → {o.Subscribers} subscriber(s)" + (o.SharedTopic ? ", one topic" : ""),
        };
        var header = $"kirisame bench {ScenarioName(o.Scenario)}: {shape}, MQTT {VersionName(o.Version)}, {o.Host}:{o.Port}";
        if (o.Scenario != Scenario.Connections)
        {
            header += $", QoS {(int)o.QoS}, {o.PayloadSize}-byte payload";
            if (o.SessionExpiry != 0)
                header += $", persistent sessions ({o.SessionExpiry} s)";
            rows.Add(("window", $"{F(r.WindowSeconds, 2)} s after {F(o.Warmup.TotalSeconds, 1)} s warm-up"));
            rows.Add(("rate asked", o.Rate > 0 ? $"{N(o.Rate.Value)} msg/s" : "unthrottled" + (o.QoS > 0 ? $" (in-flight window {o.Inflight})" : "")));
            rows.Add(("sent", $"{N(r.SentPerSecond)} msg/s"));
            if (r.AcceptedPerSecond is { } acceptedRate && r.TotalAccepted is { } accepted)
                rows.Add(("accepted", $"{N(acceptedRate)} msg/s ({r.AcceptedBy}){PerSecond(r.AcceptedPerSecondSeries)}; {N(accepted)} of {N(r.TotalSent)} sent in all"));
            rows.Add(("delivered", $"{N(r.DeliveredPerSecond)} msg/s{PerSecond(r.DeliveredPerSecondSeries)}"));
            var drain = r.DrainEnd is { } drainEnd ? $"waited {F(r.DrainSeconds, 1)} s after publishing stopped ({DrainEndName(drainEnd)})" : "";
            if (r.Lost is { } lost && r.TotalAccepted is { } acceptedAll)
            {
                var owed = acceptedAll * r.SubscribersPerMessage;
                rows.Add(("lost (QoS ≥ 1)", $"{N(lost)} of {N(owed)} owed (accepted × {r.SubscribersPerMessage} subscriber(s)), {Percent(lost, owed)}; {drain}"));
                if (r.Missing > lost)
                    rows.Add(("not delivered", $"{N(r.Missing)} of {N(r.TotalExpected)} sent × subscribers, counting publishes not accepted"));
            }
            else
            {
                rows.Add(("dropped (QoS 0)", $"{N(r.Missing)} of {N(r.TotalExpected)} expected ({Percent(r.Missing, r.TotalExpected)}); {drain}"));
            }

            if (r.Extra > 0)
                rows.Add(("delivered twice", N(r.Extra)));
            if (r.Rejected > 0)
                rows.Add(("refused by broker", N(r.Rejected)));
            if (r.Latency is { } l)
            {
                rows.Add(("latency p50", $"{F(l.P50, 0)} µs"));
                rows.Add(("latency p90", $"{F(l.P90, 0)} µs"));
                rows.Add(("latency p99", $"{F(l.P99, 0)} µs"));
                rows.Add(("latency p99.9", $"{F(l.P999, 0)} µs"));
                rows.Add(("latency max", $"{F(l.Max, 0)} µs ({N(l.Count)} samples)"));
            }
        }
        else if (r.Connections is { } c)
        {
            rows.Add(("connected", $"{N(c.Connected)} of {N(c.Requested)} ({N(c.Failed)} failed)"));
            rows.Add(("connect rate", $"{N(c.ConnectsPerSecond)} conn/s ({F(c.ConnectSeconds, 2)} s, {o.ConnectConcurrency} at a time)"));
            rows.Add(("held", $"{F(c.HeldSeconds, 1)} s, {N(c.OpenAtEnd)} still open"));
        }

        if (r.BrokerBusyCores is { } brokerCores)
            rows.Add(("broker CPU", $"{F(brokerCores, 2)} core(s)" + (o.Scenario == Scenario.Connections ? " while connecting" : "")));
        if (r.BrokerRss is { } rss)
        {
            rows.Add(("broker RSS", $"start {Mib(rss.Start)}, peak {Mib(rss.Peak)}, end {Mib(rss.End)}, "
                + $"growth {(rss.Growth < 0 ? "−" : "+")}{Mib(Math.Abs(rss.Growth))} ({rss.Samples} samples, one a second)"));
        }
        if (r.BrokerRssPerConnection is { } perConnection)
            rows.Add(("broker RSS/conn", $"{N(perConnection)} bytes"));
        var cpu = r.GeneratorCpu;
        rows.Add(("generator CPU", $"{F(cpu.BusyCores, 2)} of {cpu.Cores} core(s) ({F(cpu.Utilisation * 100, 0)} %)"
            + (cpu.Utilisation > 0.9 ? " — the generator may be the bottleneck" : "")));
        if (o.Scenario != Scenario.Connections)
            rows.Add(("generator alloc", $"{F(r.GeneratorAllocatedPerMessage, 2)} bytes/msg ({N(r.GeneratorAllocatedBytes)} bytes in the window)"));
        foreach (var e in r.Errors)
            rows.Add(("error", e));
        rows.Add(("result", r.IsClean ? "ok" : "NOT CLEAN"));

        var width = rows.Max(row => row.Name.Length);
        var text = new StringBuilder().AppendLine(header);
        foreach (var (name, value) in rows)
            text.Append("  ").Append(name.PadRight(width)).Append("  ").AppendLine(value);
        return text.ToString();
    }

    public static string ToJson(BenchResult r)
    {
        var o = r.Options;
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("scenario", ScenarioName(o.Scenario));
            w.WriteString("host", o.Host);
            w.WriteNumber("port", o.Port);
            w.WriteString("mqtt", VersionName(o.Version));
            w.WriteNumber("qos", (int)o.QoS);
            w.WriteNumber("session_expiry", o.SessionExpiry);
            w.WriteNumber("payload", o.PayloadSize);
            w.WriteNumber("publishers", o.Publishers ?? 0);
            w.WriteNumber("subscribers", o.Subscribers ?? 0);
            w.WriteNumber("clients", o.Clients ?? 0);
            w.WriteBoolean("shared_topic", o.SharedTopic);
            w.WriteNumber("rate", o.Rate ?? 0);
            w.WriteNumber("inflight", o.Inflight);
            w.WriteNumber("duration_s", o.Duration.TotalSeconds);
            w.WriteNumber("warmup_s", o.Warmup.TotalSeconds);
            w.WriteNumber("window_s", Math.Round(r.WindowSeconds, 3));
            w.WriteNumber("sent_per_s", Math.Round(r.SentPerSecond, 1));
            w.WriteNumber("delivered_per_s", Math.Round(r.DeliveredPerSecond, 1));
            w.WriteNumber("sent", r.TotalSent);
            w.WriteNumber("expected", r.TotalExpected);
            w.WriteNumber("delivered", r.TotalDelivered);
            w.WriteNumber("missing", r.Missing);
            w.WriteNumber("extra", r.Extra);
            w.WriteNumber("rejected", r.Rejected);
            w.WriteNumber("subscribers_per_message", r.SubscribersPerMessage);
            WriteOptional(w, "accepted", r.TotalAccepted);
            if (r.AcceptedBy is { } acceptedBy)
                w.WriteString("accepted_by", acceptedBy);
            else
                w.WriteNull("accepted_by");
            if (r.AcceptedPerSecond is { } acceptedRate)
                w.WriteNumber("accepted_per_s", Math.Round(acceptedRate, 1));
            else
                w.WriteNull("accepted_per_s");
            WriteOptional(w, "lost", r.Lost);
            if (r.DrainEnd is { } drainEnd)
            {
                w.WriteNumber("drain_s", Math.Round(r.DrainSeconds, 3));
                w.WriteString("drain_end", DrainEndName(drainEnd));
            }
            else
            {
                w.WriteNull("drain_s");
                w.WriteNull("drain_end");
            }

            WriteSeries(w, "delivered_per_s_series", r.DeliveredPerSecondSeries);
            if (r.AcceptedBy is not null)
                WriteSeries(w, "accepted_per_s_series", r.AcceptedPerSecondSeries);
            else
                w.WriteNull("accepted_per_s_series");
            if (r.Latency is { } l)
            {
                w.WriteStartObject("latency_us");
                w.WriteNumber("count", l.Count);
                w.WriteNumber("p50", Math.Round(l.P50, 1));
                w.WriteNumber("p90", Math.Round(l.P90, 1));
                w.WriteNumber("p99", Math.Round(l.P99, 1));
                w.WriteNumber("p999", Math.Round(l.P999, 1));
                w.WriteNumber("max", Math.Round(l.Max, 1));
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("latency_us");
            }

            if (r.Connections is { } c)
            {
                w.WriteStartObject("connections");
                w.WriteNumber("requested", c.Requested);
                w.WriteNumber("connected", c.Connected);
                w.WriteNumber("failed", c.Failed);
                w.WriteNumber("connect_s", Math.Round(c.ConnectSeconds, 3));
                w.WriteNumber("connects_per_s", Math.Round(c.ConnectsPerSecond, 1));
                w.WriteNumber("held_s", Math.Round(c.HeldSeconds, 3));
                w.WriteNumber("open_at_end", c.OpenAtEnd);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("connections");
            }

            if (r.BrokerBusyCores is { } brokerCores)
                w.WriteNumber("broker_busy_cores", Math.Round(brokerCores, 3));
            else
                w.WriteNull("broker_busy_cores");
            WriteOptional(w, "broker_rss_before", r.BrokerRssBefore);
            WriteOptional(w, "broker_rss_after", r.BrokerRssAfter);
            if (r.BrokerRssPerConnection is { } perConnection)
                w.WriteNumber("broker_rss_per_connection", Math.Round(perConnection, 1));
            else
                w.WriteNull("broker_rss_per_connection");

            // Only with --broker-pid (and a readable /proc): absent rather than null, so its presence says it was measured.
            if (r.BrokerRss is { } rss)
            {
                w.WriteStartObject("broker_rss");
                w.WriteNumber("start", rss.Start);
                w.WriteNumber("peak", rss.Peak);
                w.WriteNumber("end", rss.End);
                w.WriteNumber("growth", rss.Growth);
                w.WriteNumber("samples", rss.Samples);
                w.WriteEndObject();
            }

            w.WriteStartObject("generator_cpu");
            w.WriteNumber("cpu_s", Math.Round(r.GeneratorCpu.CpuSeconds, 3));
            w.WriteNumber("wall_s", Math.Round(r.GeneratorCpu.WallSeconds, 3));
            w.WriteNumber("cores", r.GeneratorCpu.Cores);
            w.WriteNumber("busy_cores", Math.Round(r.GeneratorCpu.BusyCores, 3));
            w.WriteNumber("utilisation", Math.Round(r.GeneratorCpu.Utilisation, 3));
            w.WriteNumber("allocated_bytes", r.GeneratorAllocatedBytes);
            w.WriteNumber("allocated_per_message", Math.Round(r.GeneratorAllocatedPerMessage, 3));
            w.WriteEndObject();
            w.WriteStartArray("errors");
            foreach (var e in r.Errors)
                w.WriteStringValue(e);
            w.WriteEndArray();
            w.WriteBoolean("clean", r.IsClean);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteSeries(Utf8JsonWriter w, string name, IReadOnlyList<double> series)
    {
        w.WriteStartArray(name);
        foreach (var rate in series)
            w.WriteNumberValue(Math.Round(rate, 1));
        w.WriteEndArray();
    }

    public static string DrainEndName(DrainEnd end) => end switch
    {
        DrainEnd.Complete => "complete",
        DrainEnd.Quiet => "quiet",
        DrainEnd.Limit => "limit",
        _ => end.ToString(),
    };

    /// "; per second min …, median …, max …" for a series, or nothing for a window shorter than a second.
    private static string PerSecond(IReadOnlyList<double> series)
        => RateSpread.Of(series) is { } spread
            ? $"; per second min {N(spread.Min)}, median {N(spread.Median)}, max {N(spread.Max)}"
            : "";

    private static void WriteOptional(Utf8JsonWriter w, string name, long? value)
    {
        if (value is { } v)
            w.WriteNumber(name, v);
        else
            w.WriteNull(name);
    }

    private static string N(double value) => value.ToString("N0", Invariant);

    private static string F(double value, int decimals) => value.ToString("F" + decimals.ToString(Invariant), Invariant);

    private static string Percent(long part, long whole) => whole == 0 ? "0 %" : (100.0 * part / whole).ToString("0.###", Invariant) + " %";

    private static string Mib(long bytes) => (bytes / 1048576.0).ToString("0.0", Invariant) + " MiB";
}
