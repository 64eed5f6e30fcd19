using System.Net;
using Kirisame.Management.Security;

namespace Kirisame.Management;

/// The management listener (REST API, /metrics, health), bound from the "Management" configuration section.
/// Loopback and open to anyone on this machine by default (docs/adr/0011); reachable from the network only
/// with admin users or API tokens configured.
public sealed class ManagementOptions
{
    public const string SectionName = "Management";

    /// Serve the management listener at all.
    public bool Enabled { get; set; } = true;

    /// TCP port; 0 lets the operating system choose (the bound port is logged).
    public int Port { get; set; } = 8081;

    /// IP address to bind. Loopback unless set: exposing the API is a decision, not a default.
    public string BindAddress { get; set; } = "127.0.0.1";

    /// Admin users: a Mosquitto-format password file (`kirisame passwd FILE USER`), re-read when it changes.
    /// Each user needs a role in <see cref="Roles"/>.
    public string? PasswordFile { get; set; }

    /// User name → role (administrator, monitoring, viewer) for the users of <see cref="PasswordFile"/>.
    public Dictionary<string, string> Roles { get; set; } = new(StringComparer.Ordinal);

    /// API tokens for scripts (`kirisame token FILE NAME ROLE` makes one), re-read when it changes.
    public string? TokenFile { get; set; }

    /// HTTPS: the server certificate, a PEM file (the key may be in the same file) or a PFX/PKCS#12 file, as
    /// for the MQTT TLS listeners. Unset: plain HTTP.
    public string? Certificate { get; set; }

    /// HTTPS: the PEM private key, when it is not in <see cref="Certificate"/>.
    public string? PrivateKey { get; set; }

    /// HTTPS: password of an encrypted PEM key or of a PFX file.
    public string? CertificatePassword { get; set; }

    public bool IsHttps => Certificate is not null;

    public IPEndPoint EndPoint => new(IPAddress.Parse(BindAddress), Port);

    public bool IsLoopback => IPAddress.TryParse(BindAddress, out var address) && IPAddress.IsLoopback(address);

    /// Users or tokens can log in. Without either, the API is open to anyone who can reach it (loopback only).
    public bool HasCredentials => PasswordFile is not null || TokenFile is not null;

    /// The base URL clients use, with the configured port (0 until bound).
    public string Url => $"{(IsHttps ? "https" : "http")}://{EndPoint}";

    public IEnumerable<string> Validate()
    {
        if (!Enabled)
            yield break;
        if (Port is < 0 or > 65535)
            yield return $"{SectionName}:Port must be between 0 and 65535 (was {Port}).";
        if (!IPAddress.TryParse(BindAddress, out _))
            yield return $"{SectionName}:BindAddress must be an IP address such as 127.0.0.1, 0.0.0.0 or :: (was '{BindAddress}').";
        if (PasswordFile is not null && !File.Exists(PasswordFile))
            yield return $"{SectionName}:PasswordFile: '{PasswordFile}' does not exist (create it with 'kirisame passwd FILE USER').";
        if (TokenFile is not null && !File.Exists(TokenFile))
            yield return $"{SectionName}:TokenFile: '{TokenFile}' does not exist (create it with 'kirisame token FILE NAME ROLE').";
        foreach (var (user, role) in Roles)
        {
            if (!ManagementRoles.TryParse(role, out _))
                yield return $"{SectionName}:Roles:{user} must be administrator, monitoring or viewer (was '{role}').";
        }

        if (Roles.Count > 0 && PasswordFile is null)
            yield return $"{SectionName}:Roles names users, but {SectionName}:PasswordFile is not set: they could not log in.";
        if (Certificate is not null && !File.Exists(Certificate))
            yield return $"{SectionName}:Certificate: '{Certificate}' does not exist.";
        if (PrivateKey is not null && !File.Exists(PrivateKey))
            yield return $"{SectionName}:PrivateKey: '{PrivateKey}' does not exist.";
        if (Certificate is null && (PrivateKey is not null || CertificatePassword is not null))
            yield return $"{SectionName}:PrivateKey and CertificatePassword need {SectionName}:Certificate (HTTPS).";
        if (IPAddress.TryParse(BindAddress, out _) && !IsLoopback && !HasCredentials)
        {
            yield return $"""
                The management API ({Url}) is reachable from the network but no admin users or API tokens are configured, so anyone could kick clients and delete sessions.
                  To add admin users: 'kirisame passwd FILE USER', then set {SectionName}:PasswordFile FILE and {SectionName}:Roles:USER administrator (or monitoring, viewer).
                  To add an API token: 'kirisame token FILE NAME ROLE', then set {SectionName}:TokenFile FILE.
                  Or bind it to 127.0.0.1 ({SectionName}:BindAddress), or turn it off ({SectionName}:Enabled false).
                """;
        }
    }
}
