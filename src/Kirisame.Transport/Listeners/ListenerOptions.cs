using System.Net;

namespace Kirisame.Transport.Listeners;

/// How clients reach a listener: plain MQTT over TCP, MQTT over TLS, MQTT over WebSockets, or over secure
/// WebSockets (the names are the URL schemes clients use).
public enum ListenerProtocol
{
    Mqtt,
    Mqtts,
    Ws,
    Wss,
}

/// Whether a TLS listener asks for a client certificate. A certificate that is presented is always
/// verified against <see cref="ListenerOptions.ClientCaFile"/>; a bad one fails the handshake.
public enum ClientCertificates
{
    None,
    Optional,
    Required,
}

/// Which name from a verified client certificate becomes the client's user name (Mosquitto's
/// use_identity_as_username): the subject's common name, or its first DNS subject alternative name.
public enum CertificateIdentity
{
    None,
    CommonName,
    SubjectAlternativeName,
}

/// One listener, bound from "Listeners:NAME" (the default TCP listener comes from the Transport section).
public sealed class ListenerOptions
{
    public const string SectionName = "Listeners";

    /// The key under "Listeners"; shown in logs and passed to the broker as ConnectionInfo.Listener.
    public string Name { get; set; } = "";

    public ListenerProtocol Protocol { get; set; } = ListenerProtocol.Mqtt;

    /// Unset: 1883 (mqtt), 8883 (mqtts), 8080 (ws), 8443 (wss). 0 lets the operating system choose.
    public int? Port { get; set; }

    /// Loopback unless set: being reachable from the network is a decision, not a default.
    public string BindAddress { get; set; } = "127.0.0.1";

    /// WebSocket listeners: the HTTP path clients connect to.
    public string Path { get; set; } = "/mqtt";

    /// TLS: the server certificate, a PEM file (the key may be in the same file) or a PFX/PKCS#12 file.
    /// Replacing the files takes effect for new connections without a restart.
    public string? Certificate { get; set; }

    /// TLS: the PEM private key, when it is not in <see cref="Certificate"/>.
    public string? PrivateKey { get; set; }

    /// TLS: password of an encrypted PEM key or of a PFX file.
    public string? CertificatePassword { get; set; }

    public ClientCertificates ClientCertificates { get; set; } = ClientCertificates.None;

    /// PEM file with the CA certificate(s) client certificates must chain to.
    public string? ClientCaFile { get; set; }

    public CertificateIdentity CertificateIdentity { get; set; } = CertificateIdentity.None;

    /// Open connections on this listener at most; 0 = no limit beyond Transport:MaxConnections.
    public int MaxConnections { get; set; }

    // Security for this listener's clients. Unset: the value in the Security section. The transport does
    // not read these; the server builds each listener's authenticator and authorizer from them.

    /// Overrides Security:AllowAnonymous for this listener. Unset and no password file: allowed only when
    /// this listener is on loopback.
    public bool? AllowAnonymous { get; set; }

    /// Overrides Security:PasswordFile for this listener.
    public string? PasswordFile { get; set; }

    /// Overrides Security:AclFile for this listener.
    public string? AclFile { get; set; }

    /// Overrides Security:DefaultUser for this listener.
    public string? DefaultUser { get; set; }

    /// The tenant of this listener's clients that name none (no `tenant:user` user name, no TLS server name of a
    /// tenant); unset: the default tenant (docs/adr/0021-tenants.md).
    public string? Tenant { get; set; }

    /// A copy to change (live listener changes keep the running options untouched until they are valid).
    public ListenerOptions Copy() => (ListenerOptions)MemberwiseClone();

    public bool IsTls => Protocol is ListenerProtocol.Mqtts or ListenerProtocol.Wss;

    public bool IsWebSocket => Protocol is ListenerProtocol.Ws or ListenerProtocol.Wss;

    public int EffectivePort => Port ?? Protocol switch
    {
        ListenerProtocol.Mqtts => 8883,
        ListenerProtocol.Ws => 8080,
        ListenerProtocol.Wss => 8443,
        _ => 1883,
    };

    public IPEndPoint EndPoint => new(IPAddress.Parse(BindAddress), EffectivePort);

    public bool IsLoopback => IPAddress.TryParse(BindAddress, out var address) && IPAddress.IsLoopback(address);

    public IEnumerable<string> Validate()
    {
        var key = $"{SectionName}:{Name}";
        if (!Enum.IsDefined(Protocol))
            yield return $"{key}:Protocol must be one of {string.Join(", ", Enum.GetNames<ListenerProtocol>())}.";
        if (Port is < 0 or > 65535)
            yield return $"{key}:Port must be between 0 and 65535 (was {Port}).";
        if (!IPAddress.TryParse(BindAddress, out _))
            yield return $"{key}:BindAddress must be an IP address such as 127.0.0.1, 0.0.0.0 or :: (was '{BindAddress}').";
        if (IsWebSocket && !Path.StartsWith('/'))
            yield return $"{key}:Path must start with '/' (was '{Path}').";
        if (MaxConnections < 0)
            yield return $"{key}:MaxConnections must be 0 (no limit) or more (was {MaxConnections}).";
        if (PasswordFile is not null && !File.Exists(PasswordFile))
            yield return $"{key}:PasswordFile: '{PasswordFile}' does not exist (create it with 'kirisame passwd FILE USER').";
        if (AclFile is not null && !File.Exists(AclFile))
            yield return $"{key}:AclFile: '{AclFile}' does not exist.";
        if (DefaultUser is { Length: 0 })
            yield return $"{key}:DefaultUser must not be empty (leave it out to use Security:DefaultUser).";
        if (IsTls)
        {
            if (Certificate is null)
                yield return $"{key}:Certificate is required for protocol {Protocol} (a PEM or PFX file).";
            else if (!File.Exists(Certificate))
                yield return $"{key}:Certificate: '{Certificate}' does not exist.";
            if (PrivateKey is not null && !File.Exists(PrivateKey))
                yield return $"{key}:PrivateKey: '{PrivateKey}' does not exist.";
            if (ClientCertificates != ClientCertificates.None && ClientCaFile is null)
                yield return $"{key}:ClientCaFile is required when ClientCertificates is {ClientCertificates}.";
            if (ClientCaFile is not null && !File.Exists(ClientCaFile))
                yield return $"{key}:ClientCaFile: '{ClientCaFile}' does not exist.";
            if (CertificateIdentity != CertificateIdentity.None && ClientCertificates == ClientCertificates.None)
                yield return $"{key}:CertificateIdentity needs ClientCertificates Optional or Required.";
        }
        else
        {
            foreach (var (name, value) in new[] { ("Certificate", Certificate), ("PrivateKey", PrivateKey), ("ClientCaFile", ClientCaFile) })
            {
                if (value is not null)
                    yield return $"{key}:{name} is only for TLS listeners (Protocol Mqtts or Wss), not {Protocol}.";
            }

            if (ClientCertificates != ClientCertificates.None || CertificateIdentity != CertificateIdentity.None)
                yield return $"{key}: client certificates need a TLS listener (Protocol Mqtts or Wss).";
        }
    }
}
