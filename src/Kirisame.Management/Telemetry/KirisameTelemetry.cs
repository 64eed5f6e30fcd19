using Kirisame.Broker;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Kirisame.Management.Telemetry;

/// The OpenTelemetry SDK reading the `Kirisame` meter (docs/metrics.md): a Prometheus exporter for /metrics
/// and, when configured, OTLP push to a collector. One provider for both, so both see the same instruments;
/// the process that owns it disposes it after the broker has stopped.
public static class KirisameTelemetry
{
    public const string MeterName = "Kirisame";

    /// The broker's ActivitySource (Kirisame.Broker.Diagnostics.BrokerTracing).
    public const string SourceName = "Kirisame";

    /// Null when nothing would read it (no /metrics and no OTLP endpoint).
    public static MeterProvider? Create(TelemetryOptions options, bool prometheus)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!prometheus && options.OtlpEndpoint is null)
            return null;
        var builder = Sdk.CreateMeterProviderBuilder()
            .ConfigureResource(resource => resource.AddService("kirisame", serviceVersion: MqttBroker.Version))
            .AddMeter(MeterName);
        if (prometheus)
        {
            // A scrape visits every session (kirisame.sessions.messages): a second scraper within a second gets
            // the same answer instead of another visit.
            builder.AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 1000);
        }

        if (options.OtlpEndpoint is not null)
        {
            builder.AddOtlpExporter((exporter, reader) =>
            {
                exporter.Endpoint = options.ExporterEndpoint("/v1/metrics");
                exporter.Protocol = options.OtlpProtocol == OtlpProtocol.Grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)options.ExportInterval.TotalMilliseconds;
                // Counters as totals since start, as Prometheus and $SYS report them.
                reader.TemporalityPreference = MetricReaderTemporalityPreference.Cumulative;
            });
        }

        return builder.Build();
    }

    /// Spans of the `Kirisame` activity source to OTLP (ADR 0019); null, and no listener on the source (so the
    /// broker skips all tracing work), unless Telemetry:TraceSampleRatio is set.
    public static TracerProvider? CreateTracing(TelemetryOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.TraceSampleRatio is not { } ratio || options.OtlpEndpoint is null)
            return null;
        return Sdk.CreateTracerProviderBuilder()
            .ConfigureResource(resource => resource.AddService("kirisame", serviceVersion: MqttBroker.Version))
            .AddSource(SourceName)
            .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(ratio)))
            .AddOtlpExporter(exporter =>
            {
                exporter.Endpoint = options.ExporterEndpoint("/v1/traces");
                exporter.Protocol = options.OtlpProtocol == OtlpProtocol.Grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
                exporter.BatchExportProcessorOptions.ScheduledDelayMilliseconds = (int)options.ExportInterval.TotalMilliseconds;
            })
            .Build();
    }
}
