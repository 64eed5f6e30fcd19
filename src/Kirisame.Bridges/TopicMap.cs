using Kirisame.Protocol;
using Kirisame.Protocol.Topics;

namespace Kirisame.Bridges;

/// Maps topics between the two brokers by the first rule of the direction that matches, as Mosquitto does.
internal static class TopicMap
{
    /// A local topic to the remote one, with the rule's QoS; false when no "out" rule matches.
    public static bool TryToRemote(IReadOnlyList<BridgeTopicRule> rules, string localTopic, out string remoteTopic, out QualityOfService qos) =>
        TryMap(rules, outward: true, localTopic, out remoteTopic, out qos);

    /// A remote topic to the local one; false when no "in" rule matches.
    public static bool TryToLocal(IReadOnlyList<BridgeTopicRule> rules, string remoteTopic, out string localTopic, out QualityOfService qos) =>
        TryMap(rules, outward: false, remoteTopic, out localTopic, out qos);

    private static bool TryMap(IReadOnlyList<BridgeTopicRule> rules, bool outward, string topic, out string mapped, out QualityOfService qos)
    {
        foreach (var rule in rules)
        {
            var (from, to, applies) = outward ? (rule.LocalPrefix, rule.RemotePrefix, rule.Out) : (rule.RemotePrefix, rule.LocalPrefix, rule.In);
            // The pattern applies to the topic without its prefix (Mosquitto's local/remote prefix semantics).
            if (applies && topic.StartsWith(from, StringComparison.Ordinal) && TopicRules.Matches(rule.Pattern, topic.AsSpan(from.Length)))
            {
                mapped = to + topic[from.Length..];
                qos = rule.QoS;
                return true;
            }
        }

        mapped = "";
        qos = default;
        return false;
    }

    public static QualityOfService Min(QualityOfService a, QualityOfService b) => a < b ? a : b;
}
