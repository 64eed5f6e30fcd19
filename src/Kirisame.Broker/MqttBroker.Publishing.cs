using Kirisame.Broker.Diagnostics;
using Kirisame.Broker.Security;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Broker;

/// Who publishes: the identity the ACL checks. Only the broker's own publisher ($SYS) may write to $SYS topics,
/// and its messages are not counted as received from clients.
internal readonly record struct Publisher(string ClientId, string? UserName, IAuthorizer Authorizer, bool IsBroker = false);

/// The inbound PUBLISH policy, one for every kind of client (network, in-process): what the broker accepts,
/// checked in one place. Protocol details stay with the client's transport: a network connection resolves topic
/// aliases, paces the publish rate, and turns a refusal into a PUBACK/PUBREC reason code or a DISCONNECT.
public sealed partial class MqttBroker
{
    /// Success, or why the message is refused:
    /// 0x9B/0x9A the QoS or RETAIN the CONNACK said is not available (a v5 client that sends it is disconnected
    /// [MQTT-3.2.2-11], [MQTT-3.2.2-14]; a 3.1.1 client's message is downgraded before it gets here);
    /// 0x90 a topic over Broker:MaxTopicLength / MaxTopicLevels; 0x99 a payload declared UTF-8 that is not
    /// (section 3.3.2.3.2); 0x87 $SYS topics or the ACL; 0x97 a QoS 1/2 message while the store cannot write
    /// (it could not be kept as promised). Refused messages are counted as dropped.
    internal ReasonCode AdmitPublish(in Publisher who, string topic, ReadOnlySpan<byte> topicUtf8, QualityOfService qos, bool retain,
        in PublishProperties properties, ReadOnlySpan<byte> payload, out string? why)
    {
        why = null;
        if ((int)qos > Options.MaximumQoS)
        {
            why = $"QoS {(int)qos} is above the maximum {Options.MaximumQoS}";
            return ReasonCode.QoSNotSupported;
        }

        if (retain && !Options.RetainAvailable)
        {
            why = "retain is not available";
            return ReasonCode.RetainNotSupported;
        }

        if (!WithinTopicLimits(topicUtf8.Length, topicUtf8.Count((byte)'/') + 1))
        {
            why = "topic longer or deeper than this server accepts";
            return Refused(ReasonCode.TopicNameInvalid, DropReason.TopicInvalid);
        }

        if (properties.PayloadFormatIndicator == 1 && !System.Text.Unicode.Utf8.IsValid(payload))
        {
            why = "payload is not valid UTF-8";
            return Refused(ReasonCode.PayloadFormatInvalid, DropReason.PayloadFormatInvalid);
        }

        if (!who.IsBroker)
            Metrics.Received(qos, payload.Length);
        var sys = topic == "$SYS" || topic.StartsWith("$SYS/", StringComparison.Ordinal);
        if (sys ? !who.IsBroker : !who.Authorizer.CanPublish(who.ClientId, who.UserName, topic))
        {
            why = "not authorized to publish to " + Protocol.Primitives.MqttText.Quote(topic);
            return Refused(ReasonCode.NotAuthorized, DropReason.NotAuthorized);
        }

        // A tenant's quotas (MqttBroker.Tenants.cs); the default tenant has none and pays this null check.
        if (Limits is { } limits && !who.IsBroker && AdmitForTenant(limits, topic, retain, payload.Length, out why) is var quota && quota != ReasonCode.Success)
            return quota;

        if (qos != QualityOfService.AtMostOnce && !Store.Healthy)
        {
            why = "storage unavailable; try again later";
            return Refused(ReasonCode.QuotaExceeded, DropReason.StorageUnavailable);
        }

        if (!who.IsBroker)
            TopicRates?.Published(topic);
        return ReasonCode.Success;
    }

    private ReasonCode Refused(ReasonCode reason, DropReason dropped)
    {
        Metrics.Dropped(dropped);
        return reason;
    }
}
