using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;

namespace Kirisame.Protocol.Tests.Support;

/// Field-by-field packet equality. Properties compare as materialised sets, where an absent block and an
/// empty one are the same; PUBLISH properties are materialised first so that expected values need not be
/// spelled as encoded entries.
public static class PacketAssert
{
    public static void Equal(MqttPacket expected, MqttPacket? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Type, actual.Type);
        switch (expected)
        {
            case ConnectPacket e:
                var c = Assert.IsType<ConnectPacket>(actual);
                Assert.Equal(e.ProtocolVersion, c.ProtocolVersion);
                Assert.Equal(e.CleanStart, c.CleanStart);
                Assert.Equal(e.KeepAlive, c.KeepAlive);
                Assert.Equal(e.ClientId, c.ClientId);
                Assert.Equal(e.UserName, c.UserName);
                Assert.Equal(e.Password, c.Password);
                Properties(e.Properties, c.Properties);
                Assert.Equal(e.Will is null, c.Will is null);
                if (e.Will is { } ew && c.Will is { } cw)
                {
                    Assert.Equal(ew.Topic, cw.Topic);
                    Assert.Equal(ew.Payload, cw.Payload);
                    Assert.Equal(ew.QoS, cw.QoS);
                    Assert.Equal(ew.Retain, cw.Retain);
                    Properties(ew.Properties, cw.Properties);
                }

                break;
            case ConnAckPacket e:
                var ca = Assert.IsType<ConnAckPacket>(actual);
                Assert.Equal(e.SessionPresent, ca.SessionPresent);
                Assert.Equal(e.ReasonCode, ca.ReasonCode);
                Assert.Equal(e.ReturnCode, ca.ReturnCode);
                Properties(e.Properties, ca.Properties);
                break;
            case PublishMessagePacket e:
                Publish(e.Publish, Assert.IsType<PublishMessagePacket>(actual).Publish);
                break;
            case PublishAckPacket e:
                var a = Assert.IsType<PublishAckPacket>(actual);
                Assert.Equal(e.PacketId, a.PacketId);
                Assert.Equal(e.ReasonCode, a.ReasonCode);
                Properties(e.Properties, a.Properties);
                break;
            case SubscribePacket e:
                var s = Assert.IsType<SubscribePacket>(actual);
                Assert.Equal(e.PacketId, s.PacketId);
                Assert.Equal(e.Subscriptions, s.Subscriptions);
                Properties(e.Properties, s.Properties);
                break;
            case SubAckPacket e:
                var sa = Assert.IsType<SubAckPacket>(actual);
                Assert.Equal(e.PacketId, sa.PacketId);
                Assert.Equal(e.ReasonCodes, sa.ReasonCodes);
                Properties(e.Properties, sa.Properties);
                break;
            case UnsubscribePacket e:
                var u = Assert.IsType<UnsubscribePacket>(actual);
                Assert.Equal(e.PacketId, u.PacketId);
                Assert.Equal(e.Filters, u.Filters);
                Properties(e.Properties, u.Properties);
                break;
            case UnsubAckPacket e:
                var ua = Assert.IsType<UnsubAckPacket>(actual);
                Assert.Equal(e.PacketId, ua.PacketId);
                Assert.Equal(e.ReasonCodes, ua.ReasonCodes);
                Properties(e.Properties, ua.Properties);
                break;
            case DisconnectPacket e:
                var d = Assert.IsType<DisconnectPacket>(actual);
                Assert.Equal(e.ReasonCode, d.ReasonCode);
                Properties(e.Properties, d.Properties);
                break;
            case AuthPacket e:
                var au = Assert.IsType<AuthPacket>(actual);
                Assert.Equal(e.ReasonCode, au.ReasonCode);
                Properties(e.Properties, au.Properties);
                break;
            case PingReqPacket or PingRespPacket:
                break;
            default:
                throw new ArgumentException($"No comparison for {expected.GetType().Name}.", nameof(expected));
        }
    }

    public static void Publish(in PublishPacket expected, in PublishPacket actual)
    {
        Assert.Equal(expected.QoS, actual.QoS);
        Assert.Equal(expected.Retain, actual.Retain);
        Assert.Equal(expected.Dup, actual.Dup);
        Assert.Equal(expected.PacketId, actual.PacketId);
        Assert.Equal(expected.TopicString, actual.TopicString);
        Assert.Equal(expected.Payload.ToArray(), actual.Payload.ToArray());
        Properties(expected.Properties.ToMqttProperties(), actual.Properties.ToMqttProperties());
    }

    public static void Properties(MqttProperties? expected, MqttProperties? actual)
    {
        if (!MqttProperties.AreEquivalent(expected, actual))
            Assert.Fail($"Properties differ.\nExpected: {Describe(expected)}\nActual:   {Describe(actual)}");
    }

    private static string Describe(MqttProperties? p)
    {
        if (p is null)
            return "(none)";
        var parts = new List<string>();
        foreach (var property in typeof(MqttProperties).GetProperties())
        {
            if (property.Name == nameof(MqttProperties.IsEmpty))
                continue;
            var value = property.GetValue(p);
            switch (value)
            {
                case null:
                    continue;
                case byte[] bytes:
                    parts.Add($"{property.Name}={Convert.ToHexString(bytes)}");
                    break;
                case System.Collections.IEnumerable list and not string:
                    parts.Add($"{property.Name}=[{string.Join(", ", list.Cast<object>())}]");
                    break;
                default:
                    parts.Add($"{property.Name}={value}");
                    break;
            }
        }

        return string.Join("; ", parts);
    }
}
