namespace Kirisame.Server.MosquittoConf;

/// One `connection NAME` section while it is read; emitted as Bridges:NAME (the schema the bridges read).
internal sealed class ConfBridge(ConfDirective origin)
{
    public ConfDirective Origin { get; } = origin;

    public string Name => Origin.Value;

    public List<string> Addresses { get; } = [];

    public OrderedDictionary<string, object> Settings { get; } = new(StringComparer.Ordinal);

    public List<(string Pattern, string Direction, int QoS, string LocalPrefix, string RemotePrefix)> Topics { get; } = [];

    public bool Tls { get; set; }
}

internal sealed partial class MosquittoConfConverter
{
    private readonly List<ConfBridge> _bridges = [];
    private ConfBridge? _bridge;

    /// Bridge directives that map one to one onto a key of the bridge's section.
    private static readonly Dictionary<string, (string Key, Type Type)> s_bridgeKeys = new(StringComparer.Ordinal)
    {
        ["remote_clientid"] = ("ClientId", typeof(string)),
        ["clientid"] = ("ClientId", typeof(string)),
        ["remote_username"] = ("UserName", typeof(string)),
        ["username"] = ("UserName", typeof(string)),
        ["remote_password"] = ("Password", typeof(string)),
        ["password"] = ("Password", typeof(string)),
        ["bridge_cafile"] = ("CaFile", typeof(string)),
        ["bridge_certfile"] = ("CertFile", typeof(string)),
        ["bridge_keyfile"] = ("KeyFile", typeof(string)),
        ["bridge_insecure"] = ("Insecure", typeof(bool)),
        ["cleansession"] = ("CleanStart", typeof(bool)),
        ["keepalive_interval"] = ("KeepAlive", typeof(int)),
        ["try_private"] = ("TryPrivate", typeof(bool)),
        ["notifications"] = ("Notifications", typeof(bool)),
        ["notification_topic"] = ("NotificationTopic", typeof(string)),
    };

    private static readonly HashSet<string> s_bridgeOnly = new(StringComparer.Ordinal)
    {
        "address", "addresses", "topic", "bridge_protocol_version", "restart_timeout",
    };

    private bool ApplyBridge(ConfDirective d)
    {
        if (d.Name == "connection")
        {
            if (Text(d) is null)
                return true;
            if (_bridges.Any(b => b.Name == d.Value))
                _diagnostics.Add(ConfDiagnostic.Error(d, $"a bridge named '{d.Value}' is already defined"));
            _bridge = new ConfBridge(d);
            _bridges.Add(_bridge);
            return true;
        }

        var mapped = s_bridgeKeys.TryGetValue(d.Name, out var key);
        if (!mapped && !s_bridgeOnly.Contains(d.Name))
            return false;
        if (_bridge is null)
        {
            _diagnostics.Add(ConfDiagnostic.Error(d, $"{d.Name} belongs to a bridge, but no 'connection NAME' line comes before it"));
            return true;
        }

        if (mapped)
        {
            object? value = key.Type == typeof(bool) ? Bool(d)
                : key.Type == typeof(int) ? (int?)Number(d, 0, 65535)
                : Text(d);
            if (value is not null)
                _bridge.Settings[key.Key] = value;
            if (d.Name is "bridge_cafile" or "bridge_certfile")
                _bridge.Tls = true;
            return true;
        }

        switch (d.Name)
        {
            case "address":
            case "addresses":
                _bridge.Addresses.AddRange(d.Words);
                if (d.Words.Count == 0)
                    _diagnostics.Add(ConfDiagnostic.Error(d, $"{d.Name} needs host[:port] …"));
                break;
            case "topic":
                ApplyBridgeTopic(d, _bridge);
                break;
            case "bridge_protocol_version":
                if (d.Value is "mqttv311" or "mqttv50")
                    _bridge.Settings["ProtocolVersion"] = d.Value == "mqttv50" ? "5" : "3.1.1";
                else if (d.Value == "mqttv31")
                    _diagnostics.Add(ConfDiagnostic.Warning(d, "bridges speak MQTT 3.1.1 or 5: mqttv31 becomes 3.1.1"));
                else
                    _diagnostics.Add(ConfDiagnostic.Error(d, $"bridge_protocol_version must be mqttv31, mqttv311 or mqttv50 (was '{d.Value}')"));
                break;
            case "restart_timeout":
                // "base cap" is back-off between the two; a single number is a constant delay.
                if (d.Words.Count is 1 or 2 && Number(d, d.Words[0], 1, 86_400) is { } first
                    && Number(d, d.Words[^1], 1, 86_400) is { } cap)
                    (_bridge.Settings["RestartTimeoutBase"], _bridge.Settings["RestartTimeoutCap"]) = ((int)first, (int)cap);
                else if (d.Words.Count is not (1 or 2))
                    _diagnostics.Add(ConfDiagnostic.Error(d, "restart_timeout takes 'base cap' or one constant, in seconds"));
                break;
        }

        return true;
    }

    /// topic pattern [[[ out | in | both ] qos-level] local-prefix remote-prefix]; "" is an empty word.
    private void ApplyBridgeTopic(ConfDirective d, ConfBridge bridge)
    {
        var words = d.Words.Select(w => w == "\"\"" ? "" : w).ToList();
        if (words.Count is 0 or 4 or > 5)
        {
            _diagnostics.Add(ConfDiagnostic.Error(d, "topic takes: pattern [[[ out | in | both ] qos-level] local-prefix remote-prefix]"));
            return;
        }

        var direction = words.Count > 1 ? words[1] : "out";
        if (direction is not ("out" or "in" or "both"))
        {
            _diagnostics.Add(ConfDiagnostic.Error(d, $"topic direction must be out, in or both (was '{direction}')"));
            return;
        }

        var qos = words.Count > 2 ? Number(d, words[2], 0, 2) : 0;
        if (qos is null)
            return;
        var (local, remote) = words.Count == 5 ? (words[3], words[4]) : ("", "");
        // mosquitto.conf(5): an empty pattern remaps one topic, and needs both prefixes.
        if (words[0].Length == 0 && (local.Length == 0 || remote.Length == 0))
        {
            _diagnostics.Add(ConfDiagnostic.Error(d, "an empty topic pattern (\"\") needs both a local and a remote prefix"));
            return;
        }

        bridge.Topics.Add((words[0], direction, (int)qos, local, remote));
    }

    private void FinishBridges()
    {
        foreach (var bridge in _bridges)
        {
            var key = $"Bridges:{bridge.Name}";
            if (bridge.Addresses.Count == 0)
                _diagnostics.Add(ConfDiagnostic.Error(bridge.Origin, $"bridge '{bridge.Name}' has no address"));
            if (bridge.Topics.Count == 0)
                _diagnostics.Add(ConfDiagnostic.Warning(bridge.Origin, $"bridge '{bridge.Name}' has no topic lines: nothing is forwarded"));
            for (var i = 0; i < bridge.Addresses.Count; i++)
            {
                if (BridgeUrl(bridge.Addresses[i], bridge.Tls) is { } url)
                    Set($"{key}:Addresses:{i}", url);
                else
                    _diagnostics.Add(ConfDiagnostic.Error(bridge.Origin, $"bridge '{bridge.Name}': '{bridge.Addresses[i]}' is not host[:port]"));
            }

            foreach (var (name, value) in bridge.Settings)
                Set($"{key}:{name}", value);
            for (var i = 0; i < bridge.Topics.Count; i++)
            {
                var topic = bridge.Topics[i];
                Set($"{key}:Topics:{i}:Pattern", topic.Pattern);
                Set($"{key}:Topics:{i}:Direction", topic.Direction);
                Set($"{key}:Topics:{i}:QoS", topic.QoS);
                Set($"{key}:Topics:{i}:LocalPrefix", topic.LocalPrefix);
                Set($"{key}:Topics:{i}:RemotePrefix", topic.RemotePrefix);
            }
        }
    }

    /// host, host:port, or an IPv6 address with its port ("::1:1883" or "[::1]:1883"); port 1883 when none is
    /// given, as Mosquitto. TLS (bridge_cafile or bridge_certfile) makes it mqtts://.
    private static string? BridgeUrl(string address, bool tls)
    {
        var scheme = tls ? "mqtts" : "mqtt";
        string host;
        var port = "1883";
        var colon = address.LastIndexOf(':');
        if (address.StartsWith('[') && address.IndexOf(']', StringComparison.Ordinal) is var close and > 0)
        {
            host = address[..(close + 1)];
            if (close + 1 < address.Length)
            {
                if (address[close + 1] != ':')
                    return null;
                port = address[(close + 2)..];
            }
        }
        else if (colon < 0)
            host = address;
        else
        {
            host = address[..colon];
            port = address[(colon + 1)..];
            if (host.Contains(':', StringComparison.Ordinal))
                host = $"[{host}]";
        }

        return host.Length > 0 && int.TryParse(port, out var number) && number is > 0 and <= 65535 ? $"{scheme}://{host}:{number}" : null;
    }
}
