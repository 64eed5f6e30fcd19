namespace Kirisame.Management.Telemetry;

public enum OtlpProtocol
{
    Grpc,
    HttpProtobuf,
}

/// OpenTelemetry export of the `Kirisame` meter to a collector, bound from the "Telemetry" section. Off unless
/// an endpoint is set; /metrics (Prometheus) does not depend on it.
public sealed class TelemetryOptions
{
    public const string SectionName = "Telemetry";

    /// The collector, e.g. http://127.0.0.1:4317 (gRPC) or http://127.0.0.1:4318 (HTTP; /v1/metrics is added
    /// when the URL has no path).
    public string? OtlpEndpoint { get; set; }

    public OtlpProtocol OtlpProtocol { get; set; } = OtlpProtocol.Grpc;

    /// How often metrics (and, at most, spans) are pushed.
    public TimeSpan ExportInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// Tracing (ADR 0019), off when unset. Parent-based: a message whose `traceparent` says sampled is always
    /// traced; messages without one, and connections, start a trace with this probability (0 = only traces
    /// that publishers started). Spans go to <see cref="OtlpEndpoint"/>.
    public double? TraceSampleRatio { get; set; }

    public IEnumerable<string> Validate()
    {
        if (OtlpEndpoint is { } endpoint && (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
            yield return $"{SectionName}:OtlpEndpoint must be an http:// or https:// URL (was '{endpoint}').";
        if (!Enum.IsDefined(OtlpProtocol))
            yield return $"{SectionName}:OtlpProtocol must be Grpc or HttpProtobuf.";
        if (ExportInterval < TimeSpan.FromSeconds(1) || ExportInterval > TimeSpan.FromHours(1))
            yield return $"{SectionName}:ExportInterval must be between 00:00:01 and 01:00:00 (was {ExportInterval}).";
        if (TraceSampleRatio is { } ratio && !(ratio >= 0 && ratio <= 1))
            yield return $"{SectionName}:TraceSampleRatio must be between 0 and 1 (was {ratio}).";
        if (TraceSampleRatio is not null && OtlpEndpoint is null)
            yield return $"{SectionName}:TraceSampleRatio needs {SectionName}:OtlpEndpoint, where the spans are sent.";
    }

    /// The URL the exporter is given: an HTTP endpoint set in code is used as it is, so its signal path
    /// ("/v1/metrics", "/v1/traces") is added here.
    internal Uri ExporterEndpoint(string signalPath)
    {
        var uri = new Uri(OtlpEndpoint!);
        return OtlpProtocol == OtlpProtocol.HttpProtobuf && uri.AbsolutePath is "/" or "" ? new Uri(uri, signalPath) : uri;
    }
}
