using System.Diagnostics;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;

namespace Kirisame.Broker.Diagnostics;

/// The `Kirisame` activity source (ADR 0019): short spans for a connection's start and end, and per message
/// publish → authorize → deliver (+ store commit for QoS 1/2). Nothing here runs unless a listener (the
/// OpenTelemetry SDK, when Telemetry:TraceSampleRatio is set) is on the source: callers check
/// <see cref="Enabled"/> first, so the message path neither slows nor allocates with tracing off.
///
/// A publisher's W3C trace context comes in as the MQTT 5 User Properties `traceparent` (and `tracestate`)
/// and becomes the parent of the broker's publish span. It goes out unchanged: the Server MUST forward User
/// Properties unaltered [MQTT-3.3.2-17], and the OpenTelemetry messaging conventions treat it as the message's
/// creation context, which intermediaries leave as it is. Subscribers' spans are then children of the
/// publisher's span, siblings of the broker's, all in one trace.
internal static class BrokerTracing
{
    public const string SourceName = "Kirisame";

    public static readonly ActivitySource Source = new(SourceName, MqttBroker.Version);

    public static bool Enabled => Source.HasListeners();

    private static ReadOnlySpan<byte> TraceParent => "traceparent"u8;

    private static ReadOnlySpan<byte> TraceState => "tracestate"u8;

    /// The span of one received PUBLISH (the current activity until disposed), child of the publisher's
    /// `traceparent` when it carries a valid one; null when not sampled.
    public static Activity? StartPublish(in PublishProperties properties, string topic, string clientId, QualityOfService qos, int payloadLength)
    {
        var parent = CreationContext(properties.UserProperties.Span);
        var activity = Source.StartActivity("publish", ActivityKind.Server, parent);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("messaging.system", "mqtt");
            activity.SetTag("messaging.operation.type", "receive");
            activity.SetTag("messaging.destination.name", topic);
            activity.SetTag("messaging.client.id", clientId);
            activity.SetTag("messaging.message.body.size", payloadLength);
            activity.SetTag("mqtt.qos", (int)qos);
        }

        return activity;
    }

    /// As <see cref="StartPublish"/>, for an in-process client's message (the management API's, a bridge's). An
    /// ambient activity that is not recorded — ASP.NET Core's for the API request, with no listener on it — is not
    /// made its parent: a parent-based sampler would drop the message's span with it. Callers are async methods,
    /// so the ambient activity is theirs again when they return.
    public static Activity? StartInProcessPublish(in PublishProperties properties, string topic, string clientId, QualityOfService qos, int payloadLength)
    {
        var ambient = Activity.Current;
        if (ambient is { Recorded: false })
            Activity.Current = null;
        var activity = StartPublish(properties, topic, clientId, qos, payloadLength);
        if (activity is null)
            Activity.Current = ambient;
        return activity;
    }

    /// A child of the current (publish) span; null when there is none.
    public static Activity? StartStep(string name) => Activity.Current is null ? null : Source.StartActivity(name, ActivityKind.Internal);

    /// A refused message: the span says why (the reason code the client gets, or the DISCONNECT's).
    public static void Refused(Activity? publish, ReasonCode verdict, string? why)
    {
        if (publish is null)
            return;
        publish.SetStatus(ActivityStatusCode.Error, why);
        publish.SetTag("mqtt.reason_code", verdict.ToString());
    }

    /// The publish's "store commit" span, from now until the store calls <see cref="StoreCommitted"/> with this
    /// state once the message's writes are durable (the point at which PUBACK/PUBREC may go, ADR 0003). Recorded
    /// then, so no activity stays current on any thread meanwhile.
    public static object StoreCommitStarted(Activity publish) => new PendingCommit(publish.Context, DateTimeOffset.UtcNow);

    public static readonly Action<object?> StoreCommitted = static state =>
    {
        var commit = (PendingCommit)state!;
        using var span = Source.StartActivity("store commit", ActivityKind.Internal, commit.Parent, startTime: commit.Started);
    };

    /// A short span at CONNECT accepted, from the transport's accept to now (the handshake, authentication
    /// included). A span for a connection's whole life is avoided: it would stay open for days and be lost
    /// with the process.
    public static void Connected(string clientId, ConnectionInfo info, ProtocolVersion version, TimeSpan handshake)
    {
        using var span = Source.StartActivity("connect", ActivityKind.Server, default(ActivityContext), startTime: DateTimeOffset.UtcNow - handshake);
        if (span is not { IsAllDataRequested: true })
            return;
        Describe(span, clientId, info);
        span.SetTag("mqtt.protocol.version", version.ToString());
    }

    /// A short span when a connection that was established closes; how long it lasted is an attribute.
    public static void Disconnected(string clientId, ConnectionInfo info, ReasonCode? reason, bool willPublished, TimeSpan connected)
    {
        using var span = Source.StartActivity("disconnect", ActivityKind.Server, default(ActivityContext));
        if (span is not { IsAllDataRequested: true })
            return;
        Describe(span, clientId, info);
        span.SetTag("mqtt.disconnect.reason", reason is { } code ? code.ToString() : willPublished ? "connection lost" : "client disconnected");
        span.SetTag("kirisame.connection.duration_s", connected.TotalSeconds);
    }

    private static void Describe(Activity span, string clientId, ConnectionInfo info)
    {
        span.SetTag("messaging.system", "mqtt");
        span.SetTag("messaging.client.id", clientId);
        span.SetTag("kirisame.listener", info.Listener);
        span.SetTag("network.peer.address", info.RemoteEndPoint?.ToString());
    }

    /// The publisher's context from its User Properties (W3C Trace Context level 1, section 3.2); default
    /// (a new trace, sampled by ratio) when absent or malformed.
    internal static ActivityContext CreationContext(ReadOnlySpan<byte> userProperties)
    {
        string? traceParent = null;
        string? traceState = null;
        var reader = new PropertyReader(userProperties);
        while (reader.TryRead(out var property) == Protocol.DecodeError.None && property.Id == PropertyId.UserProperty)
        {
            if (traceParent is null && property.Data.SequenceEqual(TraceParent))
                traceParent = property.GetPairValue();
            else if (traceState is null && property.Data.SequenceEqual(TraceState))
                traceState = property.GetPairValue();
        }

        return traceParent is not null && ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var context) ? context : default;
    }

    private sealed record PendingCommit(ActivityContext Parent, DateTimeOffset Started);
}
