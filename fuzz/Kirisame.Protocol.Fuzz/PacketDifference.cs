using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;

namespace Kirisame.Protocol.Fuzz;

/// Field-by-field comparison of two decoded packets, for the round trip: stable bytes alone would not notice an
/// encoder that drops a field (it would drop it again, and agree with itself). Properties compare as sets where an
/// absent block and an empty one are the same.
internal static class PacketDifference
{
    /// The first field that differs, or null when the packets are the same.
    public static string? Find(MqttPacket a, MqttPacket b)
    {
        if (a.Type != b.Type || a.GetType() != b.GetType())
            return "type";
        return (a, b) switch
        {
            (ConnectPacket x, ConnectPacket y) => Connect(x, y),
            (ConnAckPacket x, ConnAckPacket y) =>
                x.SessionPresent != y.SessionPresent ? "session present"
                : x.ReasonCode != y.ReasonCode ? "reason code"
                : x.ReturnCode != y.ReturnCode ? "return code"
                : Properties(x.Properties, y.Properties),
            (PublishMessagePacket x, PublishMessagePacket y) => x.Publish.ContentEquals(y.Publish) ? null : "publish content",
            (PublishAckPacket x, PublishAckPacket y) =>
                x.PacketId != y.PacketId ? "packet identifier"
                : x.ReasonCode != y.ReasonCode ? "reason code"
                : Properties(x.Properties, y.Properties),
            (SubscribePacket x, SubscribePacket y) =>
                x.PacketId != y.PacketId ? "packet identifier"
                : !x.Subscriptions.SequenceEqual(y.Subscriptions) ? "subscriptions"
                : Properties(x.Properties, y.Properties),
            (SubAckPacket x, SubAckPacket y) =>
                x.PacketId != y.PacketId ? "packet identifier"
                : !x.ReasonCodes.SequenceEqual(y.ReasonCodes) ? "reason codes"
                : Properties(x.Properties, y.Properties),
            (UnsubscribePacket x, UnsubscribePacket y) =>
                x.PacketId != y.PacketId ? "packet identifier"
                : !x.Filters.SequenceEqual(y.Filters, StringComparer.Ordinal) ? "filters"
                : Properties(x.Properties, y.Properties),
            (UnsubAckPacket x, UnsubAckPacket y) =>
                x.PacketId != y.PacketId ? "packet identifier"
                : !x.ReasonCodes.SequenceEqual(y.ReasonCodes) ? "reason codes"
                : Properties(x.Properties, y.Properties),
            (DisconnectPacket x, DisconnectPacket y) => x.ReasonCode != y.ReasonCode ? "reason code" : Properties(x.Properties, y.Properties),
            (AuthPacket x, AuthPacket y) => x.ReasonCode != y.ReasonCode ? "reason code" : Properties(x.Properties, y.Properties),
            (PingReqPacket, PingReqPacket) or (PingRespPacket, PingRespPacket) => null,
            _ => $"no comparison for {a.GetType().Name}",
        };
    }

    private static string? Connect(ConnectPacket x, ConnectPacket y)
    {
        if (x.ProtocolVersion != y.ProtocolVersion)
            return "protocol version";
        if (x.CleanStart != y.CleanStart || x.KeepAlive != y.KeepAlive)
            return "clean start or keep alive";
        if (!string.Equals(x.ClientId, y.ClientId, StringComparison.Ordinal) || !string.Equals(x.UserName, y.UserName, StringComparison.Ordinal))
            return "client identifier or user name";
        if ((x.Password is null) != (y.Password is null) || (x.Password is { } p && !p.AsSpan().SequenceEqual(y.Password)))
            return "password";
        if (Properties(x.Properties, y.Properties) is { } properties)
            return properties;
        if ((x.Will is null) != (y.Will is null))
            return "will";
        if (x.Will is not { } xw || y.Will is not { } yw)
            return null;
        return !string.Equals(xw.Topic, yw.Topic, StringComparison.Ordinal) || !xw.Payload.AsSpan().SequenceEqual(yw.Payload)
            || xw.QoS != yw.QoS || xw.Retain != yw.Retain
            ? "will"
            : Properties(xw.Properties, yw.Properties) is { } willProperties ? "will " + willProperties : null;
    }

    private static string? Properties(MqttProperties? x, MqttProperties? y)
        => MqttProperties.AreEquivalent(x, y) ? null : "properties";
}
