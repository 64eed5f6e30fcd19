using Kirisame.Protocol;
using Kirisame.Protocol.Topics;

namespace Kirisame.Bridges;

/// Maps topics between the two brokers by the first rule that matches, as Mosquitto does.
internal static class TopicMap
{
    /// A local topic to the remote one, with the rule's QoS; false when no "out" rule matches.
    public static bool TryToRemote(IReadOnlyList<BridgeTopicRule> rules, string localTopic, out string remoteTopic, out QualityOfService qos)
    {
        foreach (var rule in rules)
        {
            if (rule.Out && localTopic.StartsWith(rule.LocalPrefix, StringComparison.Ordinal) && TopicRules.Matches(rule.LocalFilter, localTopic))
            {
                remoteTopic = rule.RemotePrefix + localTopic[rule.LocalPrefix.Length..];
                qos = rule.QoS;
                return true;
            }
        }

        remoteTopic = "";
        qos = default;
        return false;
    }

    /// A remote topic to the local one; false when no "in" rule matches.
    public static bool TryToLocal(IReadOnlyList<BridgeTopicRule> rules, string remoteTopic, out string localTopic, out QualityOfService qos)
    {
        foreach (var rule in rules)
        {
            if (rule.In && remoteTopic.StartsWith(rule.RemotePrefix, StringComparison.Ordinal) && TopicRules.Matches(rule.RemoteFilter, remoteTopic))
            {
                localTopic = rule.LocalPrefix + remoteTopic[rule.RemotePrefix.Length..];
                qos = rule.QoS;
                return true;
            }
        }

        localTopic = "";
        qos = default;
        return false;
    }

    public static QualityOfService Min(QualityOfService a, QualityOfService b) => a < b ? a : b;
}
