namespace Kirisame.Server.Authentication;

/// Authentication:Jwt — JSON Web Tokens sent in the CONNECT password field or as MQTT 5 enhanced authentication
/// (docs/adr/0018). Exactly one key source:
/// a shared secret (HS256), a PEM public key (RS256/ES256), or a JWKS document from a file or an http(s) URL.
internal sealed class JwtOptions
{
    public const string SectionName = "Authentication:Jwt";

    /// HS256 shared secret, from a file (its bytes, trailing newline removed), so it stays out of the configuration.
    public string? SecretFile { get; set; }

    /// PEM public key (RSA → RS256, EC P-256 → ES256, Ed25519 → EdDSA).
    public string? PublicKeyFile { get; set; }

    /// JWKS document on disk; re-read every <see cref="JwksRefresh"/> and when a token names an unknown key id.
    public string? JwksFile { get; set; }

    /// JWKS document served over http(s); fetched at start, every <see cref="JwksRefresh"/>, and on an unknown key id.
    public string? JwksUrl { get; set; }

    public TimeSpan JwksRefresh { get; set; } = TimeSpan.FromMinutes(5);

    /// PEM file of the CA(s) that signed the JWKS server's certificate (a JwksUrl with https), trusted for it alone; unset: the system's
    /// trusted CAs.
    public string? CaFile { get; set; }

    /// PEM client certificate presented to the server (mutual TLS); its key in <see cref="ClientKey"/> or in the same file.
    public string? ClientCertificate { get; set; }

    public string? ClientKey { get; set; }


    /// An unknown key id fetches the JWKS again at most this often (a client cannot make us fetch per CONNECT).
    public TimeSpan JwksMinimumRefresh { get; set; } = TimeSpan.FromSeconds(10);

    /// Required "iss" when set.
    public string? Issuer { get; set; }

    /// Required "aud" when set.
    public string? Audience { get; set; }

    /// Tolerance on exp and nbf.
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// Tokens without "exp" are refused unless this is false.
    public bool RequireExpiry { get; set; } = true;

    /// Claim holding the client's rules: {"pub": [filters], "sub": [filters], "all": [filters]}; %c and %u allowed.
    public string AclClaim { get; set; } = "acl";

    /// When set, the claim must equal the CONNECT's client id.
    public string? ClientIdClaim { get; set; }

    /// When set, the claim's value becomes the client's user name (for the ACL file and logs).
    public string? UserNameClaim { get; set; }

    /// The MQTT 5 Authentication Method under which a CONNECT carries the token as its Authentication Data (instead of
    /// the password), and with which the client may re-authenticate with a new token over AUTH (section 4.12.1).
    public string AuthenticationMethod { get; set; } = "JWT";

    /// When set, the claim's value names the client's tenant (docs/adr/0021-tenants.md): the client is served there,
    /// unless it named another tenant itself (user name prefix, TLS server name), which refuses it.
    public string? TenantClaim { get; set; }

    public IEnumerable<string> Validate()
    {
        var keySources = new[] { SecretFile, PublicKeyFile, JwksFile, JwksUrl }.Count(k => k is not null);
        if (keySources != 1)
            yield return $"{SectionName}: set exactly one of SecretFile, PublicKeyFile, JwksFile, JwksUrl (found {keySources}).";
        foreach (var (key, path) in new[] { ("SecretFile", SecretFile), ("PublicKeyFile", PublicKeyFile), ("JwksFile", JwksFile) })
        {
            if (path is not null && !File.Exists(path))
                yield return $"{SectionName}:{key}: '{path}' does not exist.";
        }
        foreach (var error in HttpHookOptions.TlsFileErrors(SectionName, CaFile, ClientCertificate, ClientKey))
            yield return error;
        if ((CaFile ?? ClientCertificate) is not null && JwksUrl is null)
            yield return $"{SectionName}: CaFile and ClientCertificate are for an https JwksUrl, which is not set.";
        if (JwksUrl is { } url && (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)))
            yield return $"{SectionName}:JwksUrl must be an http:// or https:// URL (was '{url}').";
        if (JwksRefresh <= TimeSpan.Zero || JwksMinimumRefresh < TimeSpan.Zero)
            yield return $"{SectionName}:JwksRefresh must be positive and JwksMinimumRefresh not negative.";
        if (ClockSkew < TimeSpan.Zero || ClockSkew > TimeSpan.FromMinutes(10))
            yield return $"{SectionName}:ClockSkew must be between 00:00:00 and 00:10:00 (was {ClockSkew}).";
        if (string.IsNullOrWhiteSpace(AclClaim))
            yield return $"{SectionName}:AclClaim must not be empty.";
        if (string.IsNullOrWhiteSpace(AuthenticationMethod) || AuthenticationMethod == "SCRAM-SHA-256")
            yield return $"{SectionName}:AuthenticationMethod must be a name other than SCRAM-SHA-256 (was '{AuthenticationMethod}').";
    }
}

/// Authentication:Http — EMQX-style HTTP hooks: a POST per CONNECT to <see cref="Url"/> (authentication source "Http")
/// and, when <see cref="AuthorizationUrl"/> is set, per PUBLISH topic and SUBSCRIBE filter not in the cache.
internal sealed class HttpHookOptions
{
    public const string SectionName = "Authentication:Http";

    public string? Url { get; set; }

    public string? AuthorizationUrl { get; set; }

    /// PEM file of the CA(s) that signed the hook's certificate (https only), trusted for it alone; unset: the system's
    /// trusted CAs.
    public string? CaFile { get; set; }

    /// PEM client certificate presented to the server (mutual TLS); its key in <see cref="ClientKey"/> or in the same file.
    public string? ClientCertificate { get; set; }

    public string? ClientKey { get; set; }

    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// How long an allow/deny/ignore answer is reused for the same request. Zero: never cached.
    public TimeSpan CacheTtl { get; set; } = TimeSpan.FromMinutes(1);

    /// Consecutive failures (timeout, connection refused, non-2xx, bad body) after which the hook is not called
    /// for <see cref="BreakerOpenFor"/>: requests fail at once instead of each waiting for the timeout.
    public int BreakerFailures { get; set; } = 5;

    public TimeSpan BreakerOpenFor { get; set; } = TimeSpan.FromSeconds(30);

    /// What a failure means: Deny (fail closed, the default) or Ignore (the next source decides; for authorization,
    /// the ACL file alone).
    public HookFailure OnFailure { get; set; } = HookFailure.Deny;

    public IEnumerable<string> Validate()
    {
        foreach (var (key, url) in new[] { ("Url", Url), ("AuthorizationUrl", AuthorizationUrl) })
        {
            if (url is not null && (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)))
                yield return $"{SectionName}:{key} must be an http:// or https:// URL (was '{url}').";
        }
        foreach (var error in TlsFileErrors(SectionName, CaFile, ClientCertificate, ClientKey))
            yield return error;
        if (Timeout <= TimeSpan.Zero || Timeout > TimeSpan.FromMinutes(1))
            yield return $"{SectionName}:Timeout must be between 00:00:00 and 00:01:00, exclusive of zero (was {Timeout}).";
        if (CacheTtl < TimeSpan.Zero)
            yield return $"{SectionName}:CacheTtl must not be negative.";
        if (BreakerFailures < 1)
            yield return $"{SectionName}:BreakerFailures must be 1 or more (was {BreakerFailures}).";
        if (BreakerOpenFor <= TimeSpan.Zero)
            yield return $"{SectionName}:BreakerOpenFor must be positive.";
    }

    /// The TLS files of an outbound https client (the hooks', the JWKS URL's) that do not exist.
    internal static IEnumerable<string> TlsFileErrors(string section, string? caFile, string? clientCertificate, string? clientKey)
    {
        foreach (var (key, path) in new[] { ("CaFile", caFile), ("ClientCertificate", clientCertificate), ("ClientKey", clientKey) })
        {
            if (path is not null && !File.Exists(path))
                yield return $"{section}:{key}: '{path}' does not exist.";
        }
        if (clientKey is not null && clientCertificate is null)
            yield return $"{section}:ClientKey is set without ClientCertificate.";
    }
}

internal enum HookFailure
{
    Deny,
    Ignore,
}
