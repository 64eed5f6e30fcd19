using Kirisame.Broker.Admin;
using Kirisame.Broker.Diagnostics;
using Kirisame.Protocol;

namespace Kirisame.Management.Api;

// What the API answers, as JSON (camelCase). Snapshot types of the admin seam are not exposed directly: the
// wire format is a contract of its own and says things plainly (QoS as a number, drop reasons as the meter's
// tag values, "never" as null).

/// One page of a list: <paramref name="Total"/> items matched the filters; these are from <paramref name="Offset"/>.
internal sealed record Page<T>(int Total, int Offset, int Limit, IReadOnlyList<T> Items);

internal sealed record ClientView(string ClientId, bool Connected, string? Address, string? Listener, string? ProtocolVersion,
    string? UserName, DateTimeOffset? ConnectedSince, int KeepAlive)
{
    internal static ClientView Of(ClientSnapshot c) => new(c.ClientId, c.Connected, c.Origin, c.Listener,
        c.ProtocolVersion is { } v ? VersionName(v) : null, c.UserName, c.ConnectedSince, c.KeepAlive);

    private static string VersionName(Protocol.ProtocolVersion version) => version switch
    {
        Protocol.ProtocolVersion.V310 => "3.1",
        Protocol.ProtocolVersion.V311 => "3.1.1",
        Protocol.ProtocolVersion.V500 => "5.0",
        _ => version.ToString(),
    };
}

/// <paramref name="ExpiryInterval"/> in seconds, null when the session never expires.
internal sealed record SessionView(string ClientId, bool Connected, int PendingMessages, long PendingBytes, int InflightMessages,
    long? ExpiryInterval, DateTimeOffset? ExpiresAt, int SubscriptionCount, IReadOnlyDictionary<string, long> Drops)
{
    internal static SessionView Of(SessionSnapshot s) => new(s.ClientId, s.Connected, s.PendingMessages, s.PendingBytes, s.InflightMessages,
        s.ExpiryInterval == uint.MaxValue ? null : s.ExpiryInterval, s.ExpiresAt, s.SubscriptionCount, DropsByName(s.Drops));

    internal static Dictionary<string, long> DropsByName(IReadOnlyDictionary<DropReason, long> drops) =>
        drops.ToDictionary(d => DropReasonNames.Of(d.Key), d => d.Value, StringComparer.Ordinal);
}

/// <paramref name="RetainHandling"/>: 0 send on subscribe, 1 only for a new subscription, 2 never.
internal sealed record SubscriptionView(string ClientId, string Filter, string? ShareName, int Qos, bool NoLocal, bool RetainAsPublished,
    int RetainHandling, uint? SubscriptionIdentifier)
{
    internal static SubscriptionView Of(string clientId, SubscriptionSnapshot s) => new(clientId, s.Filter, s.ShareName, (int)s.MaximumQoS,
        s.NoLocal, s.RetainAsPublished, (int)s.RetainHandling, s.SubscriptionIdentifier == 0 ? null : s.SubscriptionIdentifier);
}

/// A retained message. In lists the payload is left out; reading one message gives it as text when it is UTF-8
/// (<paramref name="Payload"/>) and always as base64.
internal sealed record RetainedView(string Topic, int Qos, int PayloadBytes, uint? MessageExpiryInterval, string? PublisherClientId,
    string? Payload = null, string? PayloadBase64 = null)
{
    /// The broker's own clients (the management API's publisher among them) have ids that start with U+0000: shown without it.
    internal static RetainedView Summary(RetainedSnapshot r) => new(r.Topic, (int)r.QoS, r.Payload.Length, r.MessageExpiryInterval,
        r.PublisherClientId is ['\0', .. var own] ? own : r.PublisherClientId);

    internal static RetainedView Full(RetainedSnapshot r) => Summary(r) with
    {
        Payload = Text.TryUtf8(r.Payload),
        PayloadBase64 = Convert.ToBase64String(r.Payload),
    };
}

internal sealed record ListenerView(string Name, string Protocol, string EndPoint);

internal sealed record ConnectionCounts(long Connected, long Maximum, long Opened);

internal sealed record MessageCounts(long Received, long Sent, long Dropped);

internal sealed record ByteCounts(long Received, long Sent);

/// Per second, averaged over the last <paramref name="WindowSeconds"/> (up to a minute).
internal sealed record Rates(double ReceivedPerSecond, double SentPerSecond, double DroppedPerSecond, double WindowSeconds);

internal sealed record OverviewView(string Version, string Node, DateTimeOffset StartedAt, long UptimeSeconds, ConnectionCounts Connections,
    int Sessions, int Subscriptions, int RetainedMessages, MessageCounts Messages, ByteCounts Bytes, Rates Rates,
    IReadOnlyDictionary<string, long> Drops, bool StoreHealthy, IReadOnlyList<ListenerView> Listeners);

/// Adds a subscription for a session. <paramref name="Qos"/> 0–2 (default 0); <paramref name="RetainHandling"/> 0–2.
internal sealed record SubscribeRequest(string? Filter, int? Qos, bool? NoLocal, bool? RetainAsPublished, int? RetainHandling);

/// The QoS granted to an added subscription.
internal sealed record SubscribeResult(string ClientId, string Filter, int GrantedQos);

/// Publishes a message: <paramref name="Payload"/> as UTF-8 text, or <paramref name="PayloadBase64"/> for bytes.
internal sealed record PublishRequest(string? Topic, string? Payload, string? PayloadBase64, int? Qos, bool? Retain,
    uint? MessageExpiryInterval, string? ContentType);

/// <paramref name="Result"/>: "delivered" (some subscription matched) or "no_matching_subscribers".
internal sealed record PublishResult(string Topic, string Result, int ReasonCode);

internal static class Text
{
    private static readonly System.Text.UTF8Encoding s_strict = new(false, throwOnInvalidBytes: true);

    public static string? TryUtf8(byte[] bytes)
    {
        try
        {
            return s_strict.GetString(bytes);
        }
        catch (System.Text.DecoderFallbackException)
        {
            return null;
        }
    }
}

/// GET /api/v1/me: <paramref name="Authentication"/> is "password", "token" or "anonymous" (the API is open).
internal sealed record CallerView(string Name, string Role, string Authentication);
