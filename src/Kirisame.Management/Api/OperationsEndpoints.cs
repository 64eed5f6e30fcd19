using System.Net;
using Kirisame.Broker.Security;
using Kirisame.Broker.Tenants;
using Kirisame.Management.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Kirisame.Management.Api;

/// What an operator changes without a restart: users of the MQTT password file, the ACL files (re-read now),
/// bans after failed logins, log levels (the listeners: ListenerEndpoints).
internal static class OperationsEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        var security = api.MapGroup("/security").WithTags("Security");
        security.MapGet("/users", ListUsers).WithName("ListUsers")
            .WithSummary("The users of the MQTT password file (Security:PasswordFile): names only.").RequireAuthorization(ManagementRoles.Monitoring);
        security.MapPost("/users", AddUser).WithName("AddUser")
            .WithSummary("Adds a user to the MQTT password file (or changes its password); in force for new logins within a second.")
            .RequireAuthorization(ManagementRoles.Administrator);
        security.MapPut("/users/{userName}/password", ChangePassword).WithName("ChangePassword")
            .WithSummary("Changes a user's password.").RequireAuthorization(ManagementRoles.Administrator);
        security.MapDelete("/users/{userName}", DeleteUser).WithName("DeleteUser")
            .WithSummary("Deletes a user from the MQTT password file. Connected clients stay connected; they cannot log in again.")
            .RequireAuthorization(ManagementRoles.Administrator);
        security.MapPost("/acl/reload", ReloadAcls).WithName("ReloadAcl")
            .WithSummary("Re-reads every ACL file now (they are also re-read within a second of changing). A file that cannot be used keeps its previous rules.")
            .RequireAuthorization(ManagementRoles.Administrator);
        security.MapGet("/bans", ListBans).WithName("ListBans")
            .WithSummary("Addresses banned after failed logins, and until when, with the tenant whose logins failed (each tenant bans on its own).");
        security.MapDelete("/bans/{address}", LiftBan).WithName("LiftBan")
            .WithSummary("Lifts the ban of an address: in every tenant, or in the one named by the tenant query parameter.")
            .RequireAuthorization(ManagementRoles.Administrator);

        var logging = api.MapGroup("/logging").WithTags("Logging");
        logging.MapGet("", GetLogLevels).WithName("GetLogLevels").WithSummary("The log levels in force, by category ('Default' for all others).")
            .RequireAuthorization(ManagementRoles.Monitoring);
        logging.MapPut("", SetLogLevel).WithName("SetLogLevel")
            .WithSummary("Sets the log level of a category (or of Default) from now on, without a restart. Levels: Trace, Debug, Information, Warning, Error, Critical, None.")
            .RequireAuthorization(ManagementRoles.Administrator);
    }

    private static ProblemHttpResult NoPasswordFile() =>
        Problems.Conflict("No MQTT password file is configured (Security:PasswordFile): there are no users to manage. Create one with 'kirisame passwd FILE USER' and set it.");

    private static ProblemHttpResult NotHosted(string what) => Problems.NotFound($"This process does not offer {what}.");

    private static Results<Ok<string[]>, ProblemHttpResult> ListUsers(ManagementContext context) =>
        context.Security is not { } security ? NotHosted("user management")
        : security.PasswordFile is null ? NoPasswordFile()
        : TypedResults.Ok(security.Users().ToArray());

    private static Results<Created, ProblemHttpResult> AddUser(ManagementContext context, UserRequest request)
    {
        if (Check(context, request.UserName, request.Password) is { } problem)
            return problem;
        context.Security!.SetPassword(request.UserName!, request.Password!, mustExist: false);
        return TypedResults.Created($"/api/v1/security/users/{Uri.EscapeDataString(request.UserName!)}");
    }

    private static Results<NoContent, ProblemHttpResult> ChangePassword(ManagementContext context, string userName, PasswordRequest request)
    {
        if (Check(context, userName, request.Password) is { } problem)
            return problem;
        return context.Security!.SetPassword(userName, request.Password!, mustExist: true) ? TypedResults.NoContent() : NoUser(userName);
    }

    private static Results<NoContent, ProblemHttpResult> DeleteUser(ManagementContext context, string userName)
    {
        if (context.Security is not { } security)
            return NotHosted("user management");
        if (security.PasswordFile is null)
            return NoPasswordFile();
        return security.DeleteUser(userName) ? TypedResults.NoContent() : NoUser(userName);
    }

    private static ProblemHttpResult NoUser(string userName) => Problems.NotFound($"There is no user '{userName}' in the password file.");

    /// The rules of a password-file line: a name without ':' or line breaks (the file's separator), a password
    /// that is not empty (Mosquitto's rules too).
    private static ProblemHttpResult? Check(ManagementContext context, string? userName, string? password)
    {
        if (context.Security is not { } security)
            return NotHosted("user management");
        if (security.PasswordFile is null)
            return NoPasswordFile();
        if (string.IsNullOrEmpty(userName) || userName.IndexOfAny([':', '\n', '\r']) >= 0 || userName.Length > 65535)
            return Problems.BadRequest("userName is required and may not contain ':' or line breaks.");
        if (string.IsNullOrEmpty(password))
            return Problems.BadRequest("password is required and may not be empty.");
        return null;
    }

    private static Results<NoContent, ProblemHttpResult> ReloadAcls(ManagementContext context)
    {
        if (context.Security is not { } security)
            return NotHosted("ACL reloading");
        var failures = security.ReloadAcls();
        return failures.Count == 0 ? TypedResults.NoContent()
            : Problems.Make(StatusCodes.Status422UnprocessableEntity, "ACL file not usable", string.Join(" ", failures) + " The previous rules stay in force.");
    }

    private static Results<Ok<BanView[]>, ProblemHttpResult> ListBans(ManagementContext context) =>
        context.Security is not { } security ? NotHosted("bans")
        : TypedResults.Ok(security.Bans().Select(b => BanView.Of(b, TenantDirectory.DefaultTenant))
            .Concat(TenantGuards(context.Broker).SelectMany(t => t.Guard.Bans().Select(b => BanView.Of(b, t.Tenant))))
            .OrderBy(b => b.Address, StringComparer.Ordinal).ThenBy(b => b.Tenant, StringComparer.Ordinal).ToArray());

    private static Results<NoContent, ProblemHttpResult> LiftBan(ManagementContext context, string address, string? tenant)
    {
        if (context.Security is not { } security)
            return NotHosted("bans");
        if (!IPAddress.TryParse(address, out var parsed))
            return Problems.BadRequest($"'{address}' is not an IP address.");
        if (tenant is not null && tenant != TenantDirectory.DefaultTenant && context.Broker.Tenants?.Find(tenant) is null)
            return Problems.NotFound($"No tenant '{tenant}'.");
        var lifted = (tenant is null or TenantDirectory.DefaultTenant) && security.Lift(parsed);
        foreach (var (name, guard) in TenantGuards(context.Broker))
            lifted |= (tenant is null || tenant == name) && guard.Lift(parsed);
        return lifted ? TypedResults.NoContent() : Problems.NotFound($"{parsed} is not banned{(tenant is null ? "" : $" in tenant '{tenant}'")}.");
    }

    /// The failed-login guard of each tenant besides the default one (docs/adr/0021-tenants.md: each has its own).
    private static IEnumerable<(string Tenant, FailedLoginGuard Guard)> TenantGuards(Broker.MqttBroker broker)
    {
        foreach (var name in broker.Tenants?.Names ?? [])
        {
            if (broker.Tenants!.Find(name)?.Authenticator is FailedLoginGuard guard)
                yield return (name, guard);
        }
    }

    private static Results<Ok<Dictionary<string, string>>, ProblemHttpResult> GetLogLevels(ManagementContext context) =>
        context.Logging is not { } logging ? NotHosted("log levels")
        : TypedResults.Ok(logging.Levels().ToDictionary(l => l.Key, l => l.Value.ToString()));

    private static Results<Ok<Dictionary<string, string>>, ProblemHttpResult> SetLogLevel(ManagementContext context, LogLevelRequest request)
    {
        if (context.Logging is not { } logging)
            return NotHosted("log levels");
        // Names only: Enum.TryParse would take "7" or "Verbose" is not a level at all (issue 17).
        if (request.Level is null || int.TryParse(request.Level, out _) || !Enum.TryParse<LogLevel>(request.Level, ignoreCase: true, out var level))
            return Problems.BadRequest($"level must be one of {string.Join(", ", Enum.GetNames<LogLevel>())} (was '{request.Level}').");
        if (request.Category is { } category && (category.Length == 0 || category.Contains(':', StringComparison.Ordinal)))
            return Problems.BadRequest("category must be a logger category such as 'Kirisame.Broker' (no ':'), or absent for Default.");
        logging.Set(request.Category, level);
        return TypedResults.Ok(logging.Levels().ToDictionary(l => l.Key, l => l.Value.ToString()));
    }
}

/// POST /api/v1/security/users.
public sealed record UserRequest(string? UserName, string? Password);

/// PUT /api/v1/security/users/{userName}/password.
public sealed record PasswordRequest(string? Password);

/// PUT /api/v1/logging: <paramref name="Category"/> absent sets Default.
public sealed record LogLevelRequest(string? Level, string? Category);

/// GET /api/v1/security/bans: <paramref name="Tenant"/> is the tenant whose logins failed ("default" for the default one).
public sealed record BanView(string Address, DateTimeOffset Until, string Tenant)
{
    internal static BanView Of(BannedAddress ban, string tenant) => new(ban.Address.ToString(), ban.Until, tenant);
}
