using System.Net;

namespace Kirisame.Server.MosquittoConf;

/// One mosquitto.conf listener while its section is read. Origin is its `listener` line (null: the default
/// listener of `port` and `bind_address`).
internal sealed class ConfListener(ConfDirective? origin)
{
    public ConfDirective? Origin { get; } = origin;

    public int Port { get; set; } = 1883;

    /// Mosquitto binds a listener without an address to every interface.
    public string BindAddress { get; set; } = "0.0.0.0";

    /// Port or bind_address was given (the default listener exists only then, when there are listeners).
    public bool Declared { get; set; }

    /// Some listener option was given: used to tell a default listener that was configured but not started.
    public bool Configured { get; set; }

    public bool WebSockets { get; set; }

    public string? CaFile { get; set; }

    public string? CertFile { get; set; }

    public string? KeyFile { get; set; }

    public bool RequireCertificate { get; set; }

    public ConfDirective? UseIdentity { get; set; }

    public int? MaxConnections { get; set; }

    public bool? AllowAnonymous { get; set; }

    public string? PasswordFile { get; set; }

    public string? AclFile { get; set; }

    public bool IsTls => CertFile is not null;

    public string Protocol => (WebSockets, IsTls) switch
    {
        (true, true) => "Wss",
        (true, false) => "Ws",
        (false, true) => "Mqtts",
        _ => "Mqtt",
    };
}

internal sealed partial class MosquittoConfConverter
{
    private bool ApplyListener(ConfDirective d)
    {
        switch (d.Name)
        {
            case "port":
                if (Number(d, 1, 65535) is { } port)
                    (_default.Port, _default.Declared) = ((int)port, true);
                return true;
            case "bind_address":
                if (Address(d, d.Value) is { } bind)
                    (_default.BindAddress, _default.Declared) = (bind, true);
                return true;
            case "listener":
                StartListener(d);
                return true;
            case "protocol":
                if (d.Value is "mqtt" or "websockets")
                    _current.WebSockets = d.Value == "websockets";
                if (d.Value == "websockets")
                    _diagnostics.Add(ConfDiagnostic.Warning(d, "Kirisame serves MQTT over WebSockets on the path /mqtt only (Listeners:NAME:Path); Mosquitto accepts any path"));
                else if (d.Value != "mqtt")
                    _diagnostics.Add(ConfDiagnostic.Error(d, $"protocol must be mqtt or websockets (was '{d.Value}')"));
                break;
            case "cafile":
                _current.CaFile = Text(d);
                break;
            case "certfile":
                _current.CertFile = Text(d);
                break;
            case "keyfile":
                _current.KeyFile = Text(d);
                break;
            case "require_certificate":
                _current.RequireCertificate = Bool(d) == true;
                break;
            case "use_identity_as_username":
                if (Bool(d) == true)
                    _current.UseIdentity = d;
                break;
            case "max_connections":
                if (Number(d, -1, int.MaxValue) is { } connections)
                    _current.MaxConnections = connections < 0 ? 0 : (int)connections;
                break;
            case "tls_version":
                // Mosquitto's tls_version is the lowest version accepted; Kirisame accepts TLS 1.2 and 1.3.
                if (d.Value == "tlsv1.3")
                    _diagnostics.Add(ConfDiagnostic.Error(d, "tls_version tlsv1.3 is not supported: Kirisame also accepts TLS 1.2"));
                else if (d.Value != "tlsv1.2")
                    _diagnostics.Add(ConfDiagnostic.Warning(d, $"tls_version {d.Value}: Kirisame accepts TLS 1.2 and 1.3 only"));
                break;
            default:
                return false;
        }

        _current.Configured = true;
        return true;
    }

    private void StartListener(ConfDirective d)
    {
        if (d.Words.Count is 0 or > 2 || Number(d, d.Words[0], 0, 65535) is not { } port)
        {
            if (d.Words.Count is 0 or > 2)
                _diagnostics.Add(ConfDiagnostic.Error(d, "listener needs a port and, optionally, an address: listener PORT [ADDRESS]"));
            _current = new ConfListener(d); // its options still need somewhere to go
            return;
        }

        _current = new ConfListener(d) { Port = (int)port, Declared = true };
        if (port == 0 && d.Words.Count == 2)
        {
            _diagnostics.Add(ConfDiagnostic.Error(d, "listeners on Unix sockets are not supported"));
            return;
        }

        if (d.Words.Count == 2 && Address(d, d.Words[1]) is { } address)
            _current.BindAddress = address;
        _listeners.Add(_current);
    }

    /// Kirisame binds to IP addresses; "localhost" is the loopback address, other host names are not looked up.
    private string? Address(ConfDirective d, string value)
    {
        if (value == "localhost")
            return "127.0.0.1";
        if (IPAddress.TryParse(value, out _))
            return value;
        _diagnostics.Add(ConfDiagnostic.Error(d, $"'{value}' is not an IP address: Kirisame binds to IP addresses (e.g. 127.0.0.1, 0.0.0.0 or ::)"));
        return null;
    }

    private void FinishListeners()
    {
        // Mosquitto's default listener runs when port or bind_address is given, or when nothing else listens (in
        // Mosquitto 2.0, "local only mode": loopback and anonymous, which is also Kirisame's default).
        var started = _default.Declared || (_listeners.Count == 0 && _default.Configured);
        var all = started ? [_default, .. _listeners] : _listeners;
        if (!started && (_default.Configured || _default.AllowAnonymous is not null || _default.PasswordFile is not null || _default.AclFile is not null))
            _diagnostics.Add(new ConfDiagnostic(false, "default listener",
                "options given before the first 'listener' line belong to the default listener, which is not started (no port or bind_address): ignored"));

        if (all.Count == 0)
        {
            FinishSecurity(anyListener: false);
            return;
        }

        Set("Transport:Enabled", false);
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var listener in all)
        {
            var name = $"{listener.Protocol.ToLowerInvariant()}-{listener.Port}";
            for (var n = 2; !names.Add(name); n++)
                name = $"{listener.Protocol.ToLowerInvariant()}-{listener.Port}-{n}";
            EmitListener($"Listeners:{name}", listener);
        }

        FinishSecurity(anyListener: true);
    }

    private void EmitListener(string key, ConfListener listener)
    {
        var where = listener.Origin?.Where ?? "default listener";
        Set($"{key}:Protocol", listener.Protocol);
        Set($"{key}:Port", listener.Port);
        Set($"{key}:BindAddress", listener.BindAddress);
        if (listener.IsTls)
        {
            Set($"{key}:Certificate", listener.CertFile!);
            if (listener.KeyFile is not null)
                Set($"{key}:PrivateKey", listener.KeyFile);
        }
        else if (listener.KeyFile is not null || listener.CaFile is not null)
            _diagnostics.Add(new ConfDiagnostic(true, where, "cafile or keyfile without certfile: a TLS listener needs certfile"));

        if (listener.RequireCertificate)
        {
            if (listener.CaFile is null || !listener.IsTls)
                _diagnostics.Add(new ConfDiagnostic(true, where, "require_certificate needs certfile and cafile (the CA client certificates must chain to)"));
            else
                (_settings[$"{key}:ClientCertificates"], _settings[$"{key}:ClientCaFile"]) = ("Required", listener.CaFile);
        }

        if (listener.UseIdentity is { } identity)
        {
            if (listener.RequireCertificate)
                Set($"{key}:CertificateIdentity", "CommonName");
            else
                _diagnostics.Add(ConfDiagnostic.Error(identity, "use_identity_as_username needs require_certificate true (as in Mosquitto)"));
        }

        if (listener.MaxConnections is { } connections)
            Set($"{key}:MaxConnections", connections);
        if (_perListener)
        {
            // Mosquitto 2.0 refuses anonymous clients on a listener unless its section allows them.
            Set($"{key}:AllowAnonymous", listener.AllowAnonymous ?? false);
            if (listener.PasswordFile is not null)
                Set($"{key}:PasswordFile", listener.PasswordFile);
            if (listener.AclFile is not null)
                Set($"{key}:AclFile", listener.AclFile);
        }
    }

    /// Mosquitto 2.0 refuses anonymous clients when listeners are configured, unless allow_anonymous true says
    /// otherwise; with no listener at all it admits them, on loopback only (Kirisame's default too).
    private void FinishSecurity(bool anyListener)
    {
        if (_perListener)
            return;
        if (_allowAnonymous is { } allow)
            Set("Security:AllowAnonymous", allow);
        else if (anyListener)
            Set("Security:AllowAnonymous", false);
        if (_passwordFile is not null)
            Set("Security:PasswordFile", _passwordFile);
        if (_aclFile is not null)
            Set("Security:AclFile", _aclFile);
    }
}
