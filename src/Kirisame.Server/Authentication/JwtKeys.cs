using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;

namespace Kirisame.Server.Authentication;

/// The keys JWT signatures are checked with: fixed (a secret file or a PEM public key, read at start) or a JWKS
/// document, refreshed lazily — on the first CONNECT after <see cref="JwtOptions.JwksRefresh"/> has passed, and when
/// a token names a key id we do not hold (at most once per <see cref="JwtOptions.JwksMinimumRefresh"/>). A failed
/// refresh keeps the keys we had and is logged.
internal sealed class JwtKeys
{
    private readonly Func<CancellationToken, Task<string>>? _fetchJwks;
    private readonly JwtOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _refreshLock = new();
    private Task? _refreshing;
    private volatile IReadOnlyList<SecurityKey> _current;
    private long _refreshedAt;

    private JwtKeys(IReadOnlyList<SecurityKey> keys, Func<CancellationToken, Task<string>>? fetchJwks, JwtOptions options, TimeProvider time, ILogger logger)
    {
        _current = keys;
        _fetchJwks = fetchJwks;
        _options = options;
        _time = time;
        _logger = logger;
        _refreshedAt = time.GetTimestamp();
    }

    public IReadOnlyList<SecurityKey> Current => _current;

    public string Describe => _options.SecretFile is not null ? $"HS256 secret from {_options.SecretFile}"
        : _options.PublicKeyFile is not null ? $"public key {_options.PublicKeyFile}"
        : $"JWKS {_options.JwksFile ?? _options.JwksUrl} ({_current.Count} keys, refreshed every {_options.JwksRefresh})";

    /// Reads the key files (and fetches a JWKS URL once); throws FormatException or IOException naming what is wrong
    /// with a file. An unreachable JWKS URL is not fatal: the broker starts and fetches again on the next CONNECT.
    public static async Task<JwtKeys> LoadAsync(JwtOptions options, HttpClient http, TimeProvider time, ILogger logger)
    {
        if (options.SecretFile is { } secretFile)
        {
            var secret = (await File.ReadAllBytesAsync(secretFile)).AsSpan().TrimEnd("\r\n"u8).ToArray();
            if (secret.Length < 32)
                throw new FormatException($"the secret is {secret.Length} bytes; HS256 needs at least 32 (256 bits)");
            return new JwtKeys([new SymmetricSecurityKey(secret)], null, options, time, logger);
        }

        if (options.PublicKeyFile is { } keyFile)
            return new JwtKeys([ReadPublicKey(await File.ReadAllTextAsync(keyFile))], null, options, time, logger);

        Func<CancellationToken, Task<string>> fetch = options.JwksFile is { } jwksFile
            ? cancellation => File.ReadAllTextAsync(jwksFile, cancellation)
            : cancellation => http.GetStringAsync(new Uri(options.JwksUrl!), cancellation);
        IReadOnlyList<SecurityKey> keys = [];
        try
        {
            keys = Parse(await fetch(CancellationToken.None));
        }
        catch (Exception ex) when (options.JwksUrl is not null && ex is HttpRequestException or TaskCanceledException or FormatException)
        {
            logger.LogWarning("Authentication:Jwt:JwksUrl: could not fetch the JWKS ({Error}); tokens are refused until it can be fetched", OutboundHttpClient.Describe(ex));
        }

        return new JwtKeys(keys, fetch, options, time, logger);
    }

    private static SecurityKey ReadPublicKey(string pem)
    {
        if (Ed25519SecurityKey.FromPem(pem) is { } ed25519)
            return ed25519;
        try
        {
            var rsa = RSA.Create();
            rsa.ImportFromPem(pem);
            return new RsaSecurityKey(rsa);
        }
        catch (ArgumentException)
        {
        }

        try
        {
            var ec = ECDsa.Create();
            ec.ImportFromPem(pem);
            return new ECDsaSecurityKey(ec);
        }
        catch (ArgumentException)
        {
            throw new FormatException("not a PEM RSA, EC or Ed25519 public key");
        }
    }

    private static List<SecurityKey> Parse(string json)
    {
        try
        {
            return [.. new JsonWebKeySet(json).GetSigningKeys(), .. OctetKeyPairs(json)];
        }
        catch (Exception ex) when (ex is ArgumentException or JsonException)
        {
            throw new FormatException($"not a JWKS document: {ex.GetType().Name}", ex);
        }
    }

    /// The Ed25519 keys of a JWKS ("kty": "OKP", "crv": "Ed25519", RFC 8037), which IdentityModel skips. Keys marked
    /// for another use than signing, or for another algorithm than EdDSA, are left out as IdentityModel does for the rest.
    private static IEnumerable<SecurityKey> OctetKeyPairs(string json)
    {
        using var document = JsonDocument.Parse(json);
        if (!document.RootElement.TryGetProperty("keys", out var keys) || keys.ValueKind != JsonValueKind.Array)
            return [];
        var found = new List<SecurityKey>();
        foreach (var key in keys.EnumerateArray())
        {
            if (Text(key, "kty") != "OKP" || Text(key, "crv") != "Ed25519" || Text(key, "use") is not (null or "sig")
                || Text(key, "alg") is not (null or Ed25519SecurityKey.Algorithm) || Text(key, "x") is not { } x)
                continue;
            found.Add(new Ed25519SecurityKey(Base64UrlEncoder.DecodeBytes(x), Text(key, "kid")));
        }

        return found;
    }

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// Refreshes when the interval has passed (JWKS only).
    public Task RefreshIfDueAsync() =>
        _fetchJwks is not null && _time.GetElapsedTime(Volatile.Read(ref _refreshedAt)) >= _options.JwksRefresh ? RefreshAsync() : Task.CompletedTask;

    /// A token named a key id we do not hold: refreshes unless we did so very recently. True when refreshed.
    public async Task<bool> RefreshForUnknownKeyAsync()
    {
        if (_fetchJwks is null || _time.GetElapsedTime(Volatile.Read(ref _refreshedAt)) < _options.JwksMinimumRefresh)
            return false;
        await RefreshAsync();
        return true;
    }

    /// One fetch at a time: CONNECTs that need a refresh while one runs wait for that one.
    private Task RefreshAsync()
    {
        lock (_refreshLock)
        {
            if (_refreshing is { IsCompleted: false } running)
                return running;
            return _refreshing = FetchAsync();
        }
    }

    private async Task FetchAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            _current = Parse(await _fetchJwks!(timeout.Token));
            _logger.LogInformation("JWT: JWKS refreshed ({Count} keys)", _current.Count);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or FormatException or IOException)
        {
            _logger.LogWarning("JWT: JWKS refresh failed ({Error}); keeping the {Count} keys held", OutboundHttpClient.Describe(ex), _current.Count);
        }
        finally
        {
            Volatile.Write(ref _refreshedAt, _time.GetTimestamp());
        }
    }
}
