using System.Text;
using System.Text.Json;
using Kirisame.Broker.Security;
using Kirisame.Protocol;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Kirisame.Server.Authentication;

/// The "Jwt" authentication source: the CONNECT password is a JSON Web Token (docs/adr/0018). Signature (HS256,
/// RS256, ES256, EdDSA; "alg": "none" always refused), exp/nbf with ClockSkew, iss and aud when configured; then the
/// claims: the client id claim must match, the user name claim names the client, the ACL claim becomes the client's
/// own rules, the tenant claim (TenantClaim, when configured) names the client's tenant, and exp closes the connection
/// when it passes.
///
/// A password that is not shaped like a JWT (three base64url parts) is not this source's: the next source decides.
internal sealed class JwtSource(JwtOptions options, JwtKeys keys) : IAuthenticationSource
{
    private static readonly string[] s_algorithms = [SecurityAlgorithms.HmacSha256, SecurityAlgorithms.RsaSha256, SecurityAlgorithms.EcdsaSha256, Ed25519SecurityKey.Algorithm];

    private readonly JsonWebTokenHandler _handler = new();

    public string Name => "jwt";

    public async ValueTask<SourceVerdict> DecideAsync(ConnectContext context, CancellationToken cancellationToken)
    {
        if (context.Password is not { } password || !LooksLikeJwt(password.Span, out var token))
            return SourceVerdict.Ignore(ReasonCode.BadUserNameOrPassword, "not_a_token", "the password is not a JWT");

        if (HeaderAlgorithm(token) is not { } algorithm)
            return Deny("malformed", "the token's header does not parse");
        if (string.Equals(algorithm, "none", StringComparison.OrdinalIgnoreCase))
            return Deny("alg_none", "unsigned token (alg none)");

        await keys.RefreshIfDueAsync();
        var result = await _handler.ValidateTokenAsync(token, Parameters());
        if (!result.IsValid && result.Exception is SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException
            && await keys.RefreshForUnknownKeyAsync())
            result = await _handler.ValidateTokenAsync(token, Parameters()); // the JWKS may have rotated
        if (!result.IsValid)
            return Refusal(result.Exception);

        var jwt = (JsonWebToken)result.SecurityToken;
        using var payload = JsonDocument.Parse(Base64UrlEncoder.DecodeBytes(jwt.EncodedPayload));
        var claims = payload.RootElement;
        if (options.ClientIdClaim is { } clientIdClaim
            && !(claims.TryGetProperty(clientIdClaim, out var id) && id.ValueKind == JsonValueKind.String && id.GetString() == context.ClientId))
            return Deny("client_id_mismatch", $"the token's '{clientIdClaim}' claim is not the client id");
        if (options.UserNameClaim is { } userNameClaim && claims.TryGetProperty(userNameClaim, out var user) && user.ValueKind == JsonValueKind.String)
            context.AssignedUserName = user.GetString();
        if (options.TenantClaim is { } tenantClaim && claims.TryGetProperty(tenantClaim, out var tenant) && tenant.ValueKind == JsonValueKind.String)
            context.AssignedTenant = tenant.GetString();
        if (claims.TryGetProperty(options.AclClaim, out var acl))
        {
            if (!JwtClaimRules.TryParse(acl, out var rules, out var error))
                return Deny("bad_acl_claim", $"the '{options.AclClaim}' claim: {error}");
            context.ClientAuthorizer = new ClaimAuthorizer(rules);
        }

        if (jwt.ValidTo != DateTime.MinValue)
            context.ExpiresAt = new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero);
        return SourceVerdict.Allow();
    }

    private TokenValidationParameters Parameters() => new()
    {
        IssuerSigningKeys = keys.Current,
        ValidAlgorithms = s_algorithms,
        RequireSignedTokens = true,
        TryAllIssuerSigningKeys = true,
        ValidateIssuer = options.Issuer is not null,
        ValidIssuer = options.Issuer,
        ValidateAudience = options.Audience is not null,
        ValidAudience = options.Audience,
        ValidateLifetime = true,
        RequireExpirationTime = options.RequireExpiry,
        ClockSkew = options.ClockSkew,
    };

    private static SourceVerdict Refusal(Exception? error) => error switch
    {
        SecurityTokenExpiredException => Deny("expired", "the token has expired"),
        SecurityTokenNotYetValidException => Deny("not_yet_valid", "the token is not valid yet (nbf)"),
        SecurityTokenNoExpirationException => Deny("no_expiry", "the token has no exp claim"),
        SecurityTokenInvalidAudienceException => Deny("wrong_audience", "the token's audience is not accepted"),
        SecurityTokenInvalidIssuerException => Deny("wrong_issuer", "the token's issuer is not accepted"),
        SecurityTokenInvalidAlgorithmException => Deny("algorithm_not_allowed", "the token's algorithm is not HS256, RS256, ES256 or EdDSA"),
        SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => Deny("bad_signature", "the token's signature does not verify with any key held"),
        SecurityTokenMalformedException => Deny("malformed", "the token does not parse"),
        _ => Deny("invalid", $"the token was not accepted ({error?.GetType().Name ?? "unknown"})"),
    };

    private static SourceVerdict Deny(string label, string detail) => SourceVerdict.Deny(ReasonCode.BadUserNameOrPassword, label, detail);

    /// Three non-empty base64url parts separated by dots, in UTF-8.
    private static bool LooksLikeJwt(ReadOnlySpan<byte> password, out string token)
    {
        token = "";
        if (password.Length < 5 || password.Length > 16 * 1024 || password.Count((byte)'.') != 2)
            return false;
        foreach (var b in password)
        {
            if (!(b is (byte)'.' or (byte)'-' or (byte)'_' || char.IsAsciiLetterOrDigit((char)b)))
                return false;
        }

        token = Encoding.ASCII.GetString(password);
        var first = token.IndexOf('.', StringComparison.Ordinal);
        var last = token.LastIndexOf('.');
        return first > 0 && last > first + 1;
    }

    private static string? HeaderAlgorithm(string token)
    {
        try
        {
            using var header = JsonDocument.Parse(Base64UrlEncoder.DecodeBytes(token[..token.IndexOf('.', StringComparison.Ordinal)]));
            return header.RootElement.ValueKind == JsonValueKind.Object && header.RootElement.TryGetProperty("alg", out var alg) && alg.ValueKind == JsonValueKind.String
                ? alg.GetString()
                : null;
        }
        catch (Exception ex) when (ex is JsonException or FormatException or ArgumentException)
        {
            return null;
        }
    }
}
