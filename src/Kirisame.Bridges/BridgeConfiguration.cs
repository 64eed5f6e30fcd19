using System.Globalization;
using Kirisame.Client;
using Kirisame.Protocol;
using Kirisame.Protocol.Topics;

namespace Kirisame.Bridges;

/// Reads the `Bridges` section: one object per bridge, its key the bridge's name (README, "Bridging to Mosquitto").
/// The section comes as flattened configuration pairs ("to-cloud:Addresses:0" = "mqtt://…"), so this project needs
/// no configuration library. Every problem is reported with its full key; an unknown key is an error.
internal static class BridgeConfiguration
{
    public const string SectionName = "Bridges";

    private static readonly string[] s_keys =
    [
        "Addresses", "ProtocolVersion", "ClientId", "UserName", "Password", "CaFile", "CertFile", "KeyFile", "Insecure", "CleanStart",
        "KeepAlive", "TryPrivate", "RestartTimeoutBase", "RestartTimeoutCap", "Notifications", "NotificationTopic", "Topics", "Tenant",
    ];

    private static readonly string[] s_topicKeys = ["Pattern", "Direction", "QoS", "LocalPrefix", "RemotePrefix"];

    /// <paramref name="pairs"/>: the section's keys relative to it, as IConfigurationSection.AsEnumerable(true) gives them.
    public static List<BridgeOptions> Parse(IEnumerable<KeyValuePair<string, string?>> pairs, string hostName, List<string> errors)
    {
        var root = new Node();
        foreach (var (key, value) in pairs)
        {
            if (key.Length > 0)
                root.Add(key.Split(':'), value);
        }

        var bridges = new List<BridgeOptions>();
        foreach (var (name, node) in root.Children)
        {
            var count = errors.Count;
            var bridge = ParseBridge(name, node, hostName, errors);
            if (bridge is not null && errors.Count == count)
                bridges.Add(bridge);
        }

        return bridges;
    }

    private static BridgeOptions? ParseBridge(string name, Node node, string hostName, List<string> errors)
    {
        var prefix = $"{SectionName}:{name}";
        if (node.Children.Count == 0)
        {
            errors.Add($"{prefix} must be an object with Addresses and Topics.");
            return null;
        }

        foreach (var key in node.Children.Keys.Where(k => !s_keys.Contains(k, StringComparer.OrdinalIgnoreCase)))
            errors.Add($"Unknown option {prefix}:{key}. Known keys in a bridge: {string.Join(", ", s_keys)}.");

        var addresses = new List<MqttServerAddress>();
        foreach (var (key, text) in node.List("Addresses"))
        {
            if (MqttServerAddress.TryParse(text, out var address, out var error))
                addresses.Add(address);
            else
                errors.Add($"{prefix}:Addresses{key}: {error}.");
        }

        if (addresses.Count == 0 && node.List("Addresses").Count == 0)
            errors.Add($"{prefix}:Addresses: at least one address is needed (e.g. \"mqtt://host:1883\").");

        var version = node.Get("ProtocolVersion") switch
        {
            null or "3.1.1" or "311" or "mqttv311" => ProtocolVersion.V311,
            "5" or "5.0" or "mqttv5" or "mqttv50" => ProtocolVersion.V500,
            var other => Error<ProtocolVersion>(errors, $"{prefix}:ProtocolVersion must be \"3.1.1\" or \"5\" (was '{other}')."),
        };
        var clientId = node.Get("ClientId") ?? $"{hostName}.{name}";
        var keepAlive = Seconds(node, prefix, "KeepAlive", 60, 0, ushort.MaxValue, errors);
        var restartBase = Seconds(node, prefix, "RestartTimeoutBase", 5, 0.01, 86400, errors);
        var restartCap = Seconds(node, prefix, "RestartTimeoutCap", 30, 0.01, 86400, errors);
        if (restartCap < restartBase)
            errors.Add($"{prefix}:RestartTimeoutCap ({restartCap}) must not be below RestartTimeoutBase ({restartBase}).");
        var notificationTopic = node.Get("NotificationTopic") ?? $"$SYS/broker/connection/{clientId}/state";
        if (TopicRules.ValidateTopicName(notificationTopic) != DecodeError.None)
            errors.Add($"{prefix}:NotificationTopic '{notificationTopic}' is not a valid topic name.");

        var topics = new List<BridgeTopicRule>();
        var rules = node.Child("Topics");
        if (rules is null || rules.Children.Count == 0)
            errors.Add($"{prefix}:Topics: at least one topic rule is needed (e.g. {{ \"Pattern\": \"sensors/#\", \"Direction\": \"out\" }}).");
        foreach (var (index, rule) in rules?.Ordered() ?? [])
        {
            if (ParseRule($"{prefix}:Topics:{index}", rule, errors) is { } parsed)
                topics.Add(parsed);
        }

        var caFile = node.Get("CaFile");
        var certFile = node.Get("CertFile");
        var keyFile = node.Get("KeyFile");
        foreach (var (key, file) in new[] { ("CaFile", caFile), ("CertFile", certFile), ("KeyFile", keyFile) })
        {
            if (file is not null && !File.Exists(file))
                errors.Add($"{prefix}:{key}: '{file}' does not exist.");
        }

        if ((certFile is null) != (keyFile is null))
            errors.Add($"{prefix}: CertFile and KeyFile go together (a client certificate and its key).");

        return new BridgeOptions
        {
            Name = name,
            Addresses = addresses,
            ProtocolVersion = version,
            ClientId = clientId,
            UserName = node.Get("UserName"),
            Password = node.Get("Password"),
            Tls = new MqttTlsOptions { CaFile = caFile, CertificateFile = certFile, KeyFile = keyFile, Insecure = Bool(node, prefix, "Insecure", false, errors) },
            CleanStart = Bool(node, prefix, "CleanStart", false, errors),
            KeepAlive = TimeSpan.FromSeconds(keepAlive),
            TryPrivate = Bool(node, prefix, "TryPrivate", true, errors),
            RestartTimeoutBase = TimeSpan.FromSeconds(restartBase),
            RestartTimeoutCap = TimeSpan.FromSeconds(restartCap),
            Notifications = Bool(node, prefix, "Notifications", true, errors),
            NotificationTopic = notificationTopic,
            Topics = topics,
            Tenant = node.Get("Tenant") is { } tenant && tenant != Broker.Tenants.TenantDirectory.DefaultTenant ? tenant : null,
        };
    }

    private static BridgeTopicRule? ParseRule(string prefix, Node rule, List<string> errors)
    {
        var count = errors.Count;
        foreach (var key in rule.Children.Keys.Where(k => !s_topicKeys.Contains(k, StringComparer.OrdinalIgnoreCase)))
            errors.Add($"Unknown option {prefix}:{key}. Known keys in a topic rule: {string.Join(", ", s_topicKeys)}.");
        var pattern = rule.Get("Pattern") ?? rule.Value;
        if (string.IsNullOrEmpty(pattern))
            errors.Add($"{prefix}:Pattern is required (a topic filter such as \"sensors/#\").");
        var direction = rule.Get("Direction")?.ToLowerInvariant() switch
        {
            null or "out" => BridgeDirection.Out,
            "in" => BridgeDirection.In,
            "both" => BridgeDirection.Both,
            var other => Error<BridgeDirection>(errors, $"{prefix}:Direction must be out, in or both (was '{other}')."),
        };
        var qos = rule.Get("QoS") switch
        {
            null or "0" => QualityOfService.AtMostOnce,
            "1" => QualityOfService.AtLeastOnce,
            "2" => QualityOfService.ExactlyOnce,
            var other => Error<QualityOfService>(errors, $"{prefix}:QoS must be 0, 1 or 2 (was '{other}')."),
        };
        var local = rule.Get("LocalPrefix") ?? "";
        var remote = rule.Get("RemotePrefix") ?? "";
        foreach (var (key, value) in new[] { ("LocalPrefix", local), ("RemotePrefix", remote) })
        {
            if (TopicRules.HasWildcard(value))
                errors.Add($"{prefix}:{key} '{value}' must not contain a wildcard.");
        }

        if (!string.IsNullOrEmpty(pattern))
        {
            foreach (var filter in new[] { local + pattern, remote + pattern })
            {
                if (TopicRules.ValidateTopicFilter(filter) != DecodeError.None)
                    errors.Add($"{prefix}:Pattern: '{filter}' is not a valid topic filter.");
            }
        }

        return errors.Count == count ? new BridgeTopicRule(pattern!, direction, qos, local, remote) : null;
    }

    private static T Error<T>(List<string> errors, string message)
    {
        errors.Add(message);
        return default!;
    }

    private static bool Bool(Node node, string prefix, string key, bool fallback, List<string> errors)
    {
        var text = node.Get(key);
        if (text is null)
            return fallback;
        if (bool.TryParse(text, out var value))
            return value;
        errors.Add($"{prefix}:{key} must be true or false (was '{text}').");
        return fallback;
    }

    private static double Seconds(Node node, string prefix, string key, double fallback, double minimum, double maximum, List<string> errors)
    {
        var text = node.Get(key);
        if (text is null)
            return fallback;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= minimum && value <= maximum)
            return value;
        errors.Add($"{prefix}:{key} must be a number of seconds from {minimum.ToString(CultureInfo.InvariantCulture)} to {maximum.ToString(CultureInfo.InvariantCulture)} (was '{text}').");
        return fallback;
    }

    /// The flattened pairs as a tree, keys case-insensitive as configuration keys are.
    private sealed class Node
    {
        public string? Value { get; private set; }

        public SortedDictionary<string, Node> Children { get; } = new(StringComparer.OrdinalIgnoreCase);

        public void Add(ReadOnlySpan<string> path, string? value)
        {
            if (path.IsEmpty)
            {
                Value ??= value;
                return;
            }

            if (!Children.TryGetValue(path[0], out var child))
                Children[path[0]] = child = new Node();
            child.Add(path[1..], value);
        }

        public Node? Child(string key) => Children.GetValueOrDefault(key);

        public string? Get(string key) => Child(key)?.Value is { } v ? v : null;

        /// An array ("Addresses:0", "Addresses:1", …) or a single value ("Addresses"): (":index" or "", value).
        public List<(string Key, string? Value)> List(string key)
        {
            if (Child(key) is not { } child)
                return [];
            if (child.Children.Count == 0)
                return child.Value is { Length: > 0 } v ? [("", v)] : [];
            return [.. child.Ordered().Select(c => (":" + c.Key, c.Value.Value))];
        }

        /// Array elements in index order ("10" after "9"): the order of topic rules decides which one maps a topic.
        public IEnumerable<KeyValuePair<string, Node>> Ordered() =>
            Children.OrderBy(c => int.TryParse(c.Key, NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : int.MaxValue);
    }
}
