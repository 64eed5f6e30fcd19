using System.Net;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using Kirisame.Broker.Security;
using Kirisame.Protocol;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kirisame.Management.Security;

/// HTTP Basic (admin users) and Bearer (API tokens) for the management API. Without credentials configured
/// every request is an anonymous administrator (the listener is then on loopback: ManagementOptions refuses
/// anything else). Refusals are answered with problem details (RFC 9457).
internal sealed class ManagementAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory loggers,
    UrlEncoder encoder, ManagementCredentials credentials, LoginGuard guard)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggers, encoder)
{
    public const string SchemeName = "Kirisame";

    /// Set when the credentials were right but the user has no role: said in the 403 instead of a bare "forbidden".
    private string? _noRole;

    /// Set when the address is banned for guessing: said in the 401.
    private bool _banned;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header))
            return credentials.AllowsAnonymous ? Success("anonymous", ManagementRole.Administrator, "anonymous") : AuthenticateResult.NoResult();

        var space = header.IndexOf(' ', StringComparison.Ordinal);
        var scheme = space < 0 ? header : header[..space];
        var value = space < 0 ? "" : header[(space + 1)..].Trim();
        if (scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
        {
            if (!await VerifyAsync(null, Encoding.UTF8.GetBytes(value)))
                return AuthenticateResult.Fail(_banned ? "banned" : "unknown token");
            return credentials.FindToken(value) is { } token
                ? Success(token.Name, token.Role, "token")
                : AuthenticateResult.Fail("unknown token");
        }

        if (!scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
            return AuthenticateResult.Fail($"unsupported authorization scheme '{scheme}'");
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(value));
        }
        catch (FormatException)
        {
            return AuthenticateResult.Fail("malformed Basic credentials");
        }

        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
            return AuthenticateResult.Fail("malformed Basic credentials");
        var user = decoded[..colon];
        if (!await VerifyAsync(user, Encoding.UTF8.GetBytes(decoded[(colon + 1)..])))
            return AuthenticateResult.Fail(_banned ? "banned" : "bad user name or password");
        if (credentials.RoleOfUser(user) is not { } role)
        {
            _noRole = user;
            Logger.LogWarning("Management API: user {User} logged in but has no role (Management:Roles:{User})", user, user);
            return Success(user, 0, "password");
        }

        return Success(user, role, "password");
    }

    private async Task<bool> VerifyAsync(string? user, byte[] secret)
    {
        var remote = Context.Connection.RemoteIpAddress is { } address ? new IPEndPoint(address, Context.Connection.RemotePort) : null;
        var context = new ConnectContext("", user, secret, remote, "management", ProtocolVersion.V500);
        var verdict = await guard.Authenticator.AuthenticateAsync(context, Context.RequestAborted);
        _banned = verdict == ReasonCode.Banned;
        return verdict == ReasonCode.Success;
    }

    private AuthenticateResult Success(string name, ManagementRole role, string method)
    {
        var claims = new List<Claim> { new(ClaimTypes.Name, name), new(ClaimTypes.AuthenticationMethod, method) };
        if (role != 0)
            claims.AddRange(ManagementRoles.Granted(role).Select(r => new Claim(ClaimTypes.Role, r)));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var offered = new List<string>();
        if (credentials.AcceptsPasswords)
            offered.Add("Basic realm=\"kirisame\", charset=\"UTF-8\"");
        if (credentials.AcceptsTokens)
            offered.Add("Bearer realm=\"kirisame\"");
        // A script's request (the console's fetch says X-Requested-With, as jQuery and Spring do) gets no
        // challenge: a browser would answer one with its own login dialog over the console's form.
        if (!string.Equals(Request.Headers.XRequestedWith, "XMLHttpRequest", StringComparison.OrdinalIgnoreCase))
            Response.Headers.WWWAuthenticate = offered.ToArray();
        var detail = _banned
            ? "Too many failed logins from this address; try again later."
            : Request.Headers.Authorization.Count == 0
                ? "This API needs credentials: an admin user (HTTP Basic) or an API token (Authorization: Bearer)."
                : "The credentials were not accepted.";
        return Api.Problems.WriteAsync(Context, StatusCodes.Status401Unauthorized, "Unauthorized", detail);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        // The endpoint's own policy comes after its group's.
        var policies = Context.GetEndpoint()?.Metadata.GetOrderedMetadata<IAuthorizeData>();
        var needed = policies is { Count: > 0 } ? policies[^1].Policy : null;
        needed ??= "another role";
        var detail = _noRole is { } user
            ? $"User '{user}' has no management role: set Management:Roles:{user} to administrator, monitoring or viewer."
            : $"This needs the {needed} role; '{Context.User.Identity?.Name}' has {RoleOf(Context.User)}.";
        return Api.Problems.WriteAsync(Context, StatusCodes.Status403Forbidden, "Forbidden", detail);
    }

    private static string RoleOf(ClaimsPrincipal user) =>
        Enum.GetValues<ManagementRole>().OrderDescending().Select(ManagementRoles.Name).FirstOrDefault(user.IsInRole) ?? "no role";
}

/// The failed-login guard of the management API, in the container under its own type.
internal sealed record LoginGuard(IAuthenticator Authenticator);
