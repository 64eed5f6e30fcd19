using System.Globalization;

namespace Kirisame.Server.MosquittoConf;

/// A mosquitto.conf as Kirisame configuration keys ("Section:Key" → value, the keys the JSON file has), and
/// what could not be honoured. The keys go into the configuration where a JSON file would, so everything
/// downstream (binding, validation, security set-up) is unchanged.
internal sealed record ConfConversion(IReadOnlyDictionary<string, object> Settings, IReadOnlyList<ConfDiagnostic> Diagnostics)
{
    public bool HasErrors => Diagnostics.Any(d => d.IsError);

    /// The settings as configuration strings: booleans lower case, numbers invariant.
    public Dictionary<string, string?> ToConfiguration() => Settings.ToDictionary(
        e => e.Key,
        e => e.Value switch
        {
            bool b => b ? "true" : "false",
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            var other => (string?)other.ToString(),
        },
        StringComparer.OrdinalIgnoreCase);
}

/// Applies mosquitto.conf directives in order, as Mosquitto 2.0 does: general options, the default listener's
/// (`port`, `bind_address`, and listener options before the first `listener`), each `listener`'s section, and
/// bridge sections (`connection NAME` onwards). per_listener_settings decides whether allow_anonymous,
/// password_file and acl_file belong to the listener being configured or to all.
internal sealed partial class MosquittoConfConverter
{
    private readonly List<ConfDiagnostic> _diagnostics;
    private readonly OrderedDictionary<string, object> _settings = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConfListener _default = new(null);
    private readonly List<ConfListener> _listeners = [];
    private ConfListener _current;
    private bool _perListener;
    private bool? _allowAnonymous;
    private string? _passwordFile;
    private string? _aclFile;
    private int? _maxQoS;

    private MosquittoConfConverter(List<ConfDiagnostic> diagnostics)
    {
        _diagnostics = diagnostics;
        _current = _default;
    }

    /// Reads FILE (and its include_dir files). An unreadable file is an error diagnostic, never an exception.
    public static ConfConversion Convert(string path)
    {
        var diagnostics = new List<ConfDiagnostic>();
        var converter = new MosquittoConfConverter(diagnostics);
        List<ConfDirective> directives;
        try
        {
            directives = MosquittoConfReader.Read(path, diagnostics);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            diagnostics.Add(new ConfDiagnostic(true, path, $"cannot read it: {ex.Message}"));
            return new ConfConversion(converter._settings, diagnostics);
        }

        // It changes how security directives before it are read too, so it is looked for first.
        if (directives.LastOrDefault(d => d.Name == "per_listener_settings") is { } perListener)
            converter._perListener = converter.Bool(perListener) == true;
        foreach (var directive in directives)
            converter.Apply(directive);
        converter.Finish();
        return new ConfConversion(converter._settings, diagnostics);
    }

    private void Apply(ConfDirective d)
    {
        if (ApplyBridge(d) || ApplyListener(d))
            return;
        switch (d.Name)
        {
            case "per_listener_settings":
                return;
            case "allow_anonymous":
                if (Bool(d) is { } anonymous)
                {
                    if (_perListener)
                        _current.AllowAnonymous = anonymous;
                    else
                        _allowAnonymous = anonymous;
                }
                return;
            case "password_file":
            case "acl_file":
                ApplySecurityFile(d);
                return;
            case "persistence":
                if (Bool(d) is { } persistence)
                    Set("Storage:InMemory", !persistence);
                return;
            case "persistence_location":
                if (Text(d) is { } location)
                    Set("Storage:DataDirectory", location);
                return;
            case "max_queued_messages":
                SetCount(d, "Broker:MaxQueuedMessages", int.MaxValue);
                return;
            case "max_inflight_messages":
                SetCount(d, "Broker:MaxInflightMessages", 65535);
                return;
            case "max_queued_bytes":
                if (Number(d, 0, long.MaxValue) is { } bytes)
                {
                    if (bytes > 0)
                        Set("Broker:MaxQueuedBytes", bytes);
                    else
                        _diagnostics.Add(ConfDiagnostic.Warning(d, "max_queued_bytes 0 (no limit): Kirisame keeps its byte bound, Broker:MaxQueuedBytes (64 MiB)"));
                }
                return;
            case "message_size_limit":
                ApplyMessageSizeLimit(d);
                return;
            case "max_packet_size":
                if (Number(d, 0, 268_435_460) is { } size)
                    SetPacketSize(size == 0 ? 268_435_460 : (int)size);
                return;
            case "retain_available":
                if (Bool(d) is { } retain)
                    Set("Broker:RetainAvailable", retain);
                return;
            case "sys_interval":
                if (Number(d, 0, int.MaxValue) is { } interval)
                    Set("Broker:SysInterval", (int)interval);
                return;
            case "max_keepalive":
                if (Number(d, 0, 65535) is { } keepAlive)
                {
                    Set("Broker:ServerKeepAlive", (int)keepAlive);
                    _diagnostics.Add(ConfDiagnostic.Warning(d, "max_keepalive is sent to MQTT 5 clients (Server Keep Alive); MQTT 3.1.1 clients asking for more are not refused"));
                }
                return;
            case "set_tcp_nodelay":
                if (Bool(d) is { } noDelay)
                    Set("Transport:NoDelay", noDelay);
                return;
            case "persistent_client_expiration":
                if (Duration(d) is { } expiry)
                    Set("Broker:DefaultSessionExpirySeconds", expiry);
                return;
            case "max_topic_alias":
                if (Number(d, 0, 65535) is { } aliases)
                    Set("Broker:TopicAliasMaximum", (int)aliases);
                return;
            case "max_qos":
                if (Number(d, 0, 2) is { } qos)
                {
                    if (_current != _default)
                        _diagnostics.Add(ConfDiagnostic.Warning(d, "max_qos applies to every listener in Kirisame (the lowest one given wins)"));
                    _maxQoS = Math.Min(_maxQoS ?? 2, (int)qos);
                }
                return;
        }

        if (UnsupportedDirectives.TryGet(d.Name, out var entry))
            _diagnostics.Add(new ConfDiagnostic(entry.IsError, d.Where, $"{d.Name} is not supported: {entry.Reason}"));
        else
            _diagnostics.Add(ConfDiagnostic.Warning(d, $"unknown directive '{d.Name}': ignored"));
    }

    private void ApplySecurityFile(ConfDirective d)
    {
        if (Text(d) is not { } file)
            return;
        // Mosquitto reads relative paths from its working directory; so does Kirisame.
        var isPassword = d.Name == "password_file";
        if (_perListener && isPassword)
            _current.PasswordFile = file;
        else if (_perListener)
            _current.AclFile = file;
        else if (isPassword)
            _passwordFile = file;
        else
            _aclFile = file;
    }

    /// Mosquitto limits payloads, Kirisame whole packets: the limit grows by room for the longest topic and the
    /// headers, so a message a little over the limit with a short topic gets through.
    private void ApplyMessageSizeLimit(ConfDirective d)
    {
        if (Number(d, 0, 268_435_455) is not { } limit)
            return;
        const int Headroom = 65_535 + 2 + 5 + 2 + 256; // topic and its length, fixed header, packet id, properties
        var packet = limit == 0 ? 268_435_460 : (int)Math.Min(limit + Headroom, 268_435_460);
        SetPacketSize(packet);
        if (limit > 0)
            _diagnostics.Add(ConfDiagnostic.Warning(d, $"message_size_limit limits payloads; Kirisame limits packets: Broker:MaximumPacketSize {packet} (the limit plus {Headroom} bytes for topic and headers). A larger message closes the connection instead of being dropped"));
    }

    private void SetPacketSize(int packet)
    {
        Set("Broker:MaximumPacketSize", packet);
        // The budget for packets still arriving must hold one whole packet (BrokerOptions.Validate).
        if (packet > 256 * 1024 * 1024)
            Set("Broker:MaxPartialPacketBytes", (long)packet);
    }

    /// Mosquitto's "0 = no maximum" becomes Kirisame's largest value.
    private void SetCount(ConfDirective d, string key, int unlimited)
    {
        if (Number(d, 0, unlimited) is { } count)
            Set(key, count == 0 ? unlimited : (int)count);
    }

    private void Set(string key, object value) => _settings[key] = value;

    private void Finish()
    {
        FinishListeners();
        if (_maxQoS is { } qos)
            Set("Broker:MaximumQoS", qos);
        FinishBridges();
    }

    private string? Text(ConfDirective d)
    {
        if (d.Value.Length > 0)
            return d.Value;
        _diagnostics.Add(ConfDiagnostic.Error(d, $"{d.Name} needs a value"));
        return null;
    }

    private bool? Bool(ConfDirective d) => Bool(d, d.Value);

    private bool? Bool(ConfDirective d, string value)
    {
        if (value is "true" or "false")
            return value == "true";
        _diagnostics.Add(ConfDiagnostic.Error(d, $"{d.Name} must be true or false (was '{value}')"));
        return null;
    }

    private long? Number(ConfDirective d, long minimum, long maximum) => Number(d, d.Value, minimum, maximum);

    private long? Number(ConfDirective d, string value, long minimum, long maximum)
    {
        if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number) && number >= minimum && number <= maximum)
            return number;
        _diagnostics.Add(ConfDiagnostic.Error(d, $"{d.Name} must be a whole number from {minimum} to {maximum} (was '{value}')"));
        return null;
    }

    /// persistent_client_expiration: a number and a unit, h d w m y (hours, days, weeks, months, years).
    private uint? Duration(ConfDirective d)
    {
        var value = d.Value;
        if (value.Length >= 2 && long.TryParse(value[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
        {
            long? unit = value[^1] switch
            {
                'h' => 3600,
                'd' => 86_400,
                'w' => 7 * 86_400,
                'm' => 30 * 86_400,
                'y' => 365 * 86_400,
                _ => null,
            };
            if (unit is { } seconds && amount * seconds <= uint.MaxValue)
                return (uint)(amount * seconds);
        }

        _diagnostics.Add(ConfDiagnostic.Error(d, $"{d.Name} must be a number followed by h, d, w, m or y (was '{value}')"));
        return null;
    }
}
