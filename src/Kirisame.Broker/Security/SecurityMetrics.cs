using System.Diagnostics.Metrics;
using Kirisame.Broker.Diagnostics;

namespace Kirisame.Broker.Security;

/// Refusals by authentication source and authorization hook, on the "Kirisame" meter (docs/metrics.md). The labels
/// are fixed words chosen by the code (source: file, jwt, http, none; reason: e.g. expired, bad_signature), never a
/// client id, user name or token, so the number of series stays bounded.
///
/// A meter of its own (same name as BrokerMetrics'): the sources are built before the broker, and a listener
/// subscribed to "Kirisame" sees both.
public static class SecurityMetrics
{
    private static readonly Meter s_meter = new(BrokerMetrics.MeterName, MqttBroker.Version);

    private static readonly Counter<long> s_authentication = s_meter.CreateCounter<long>("kirisame.authentication.refused", "{connection}",
        "CONNECTs refused by an authentication source, by source and reason");

    private static readonly Counter<long> s_authorization = s_meter.CreateCounter<long>("kirisame.authorization.refused", "{request}",
        "PUBLISH or SUBSCRIBE refused by per-client rules (JWT claims) or the HTTP authorization hook, by source and action");

    public static void AuthenticationRefused(string source, string reason) =>
        s_authentication.Add(1, new KeyValuePair<string, object?>("source", source), new KeyValuePair<string, object?>("reason", reason));

    public static void AuthorizationRefused(string source, string action) =>
        s_authorization.Add(1, new KeyValuePair<string, object?>("source", source), new KeyValuePair<string, object?>("action", action));
}
