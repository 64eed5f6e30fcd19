using Kirisame.MqttSn.Codec;
using Kirisame.Protocol;

namespace Kirisame.MqttSn.Gateway;

/// The broker answers with MQTT 5 reason codes; an MQTT-SN client understands four return codes (§5.3.10).
internal static class SnReturnCodes
{
    public static SnReturnCode FromBroker(ReasonCode reason) => reason switch
    {
        ReasonCode.Success or ReasonCode.NoMatchingSubscribers => SnReturnCode.Accepted,
        // Limits the client may retry against later.
        ReasonCode.QuotaExceeded or ReasonCode.ServerBusy or ReasonCode.ServerUnavailable or ReasonCode.ServerShuttingDown => SnReturnCode.Congestion,
        ReasonCode.TopicNameInvalid or ReasonCode.TopicFilterInvalid => SnReturnCode.InvalidTopicId,
        // Not authorized, QoS/retain not offered, and the rest: the specification has nothing closer.
        _ => SnReturnCode.NotSupported,
    };
}
