using Kirisame.Broker.Tenants;
using Kirisame.Management.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Kirisame.Management.Api;

/// Tenants (docs/adr/0021-tenants.md): listed with their quotas and counts to anyone with access — the operator's
/// view of every tenant —, added, given other quotas and removed by an administrator without a restart. The host keeps
/// the tenants the API added for the next start (in the data folder, not in the tenants file, which it never writes).
internal static class TenantEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        var tenants = api.MapGroup("/tenants").WithTags("Tenants");
        tenants.MapGet("", List).WithName("ListTenants")
            .WithSummary("Every tenant, the default one first: quotas, server names, connected clients, sessions, subscriptions, retained messages and message totals.");
        tenants.MapGet("/{name}", Get).WithName("GetTenant").WithSummary("One tenant.");
        tenants.MapPost("", Add).WithName("AddTenant")
            .WithSummary("Adds a tenant (or changes one) with its password file, ACL file, anonymous policy, TLS server names and quotas. The server keeps it in its data folder and adds it again at start (not in memory); a tenant the tenants file defines is changed until that file changes.")
            .RequireAuthorization(ManagementRoles.Administrator);
        tenants.MapPut("/{name}/quotas", SetQuotas).WithName("SetTenantQuotas")
            .WithSummary("Replaces a tenant's quotas (a quota left out is no limit); connections over a new connection quota stay.")
            .RequireAuthorization(ManagementRoles.Administrator);
        tenants.MapDelete("/{name}", Remove).WithName("RemoveTenant")
            .WithSummary("Removes a tenant: its clients are disconnected now (0x98) and new ones refused; its sessions and retained messages are deleted after Tenants:RemovalGrace unless it is added again.")
            .RequireAuthorization(ManagementRoles.Administrator);
    }

    /// Without tenants configured, the default tenant alone.
    private static Ok<IReadOnlyList<TenantSnapshot>> List(ManagementContext context) => TypedResults.Ok(context.Broker.ListTenants());

    private static Results<Ok<TenantSnapshot>, ProblemHttpResult> Get(ManagementContext context, string name) =>
        context.Broker.ListTenants().FirstOrDefault(t => t.Name == name) is { } tenant ? TypedResults.Ok(tenant) : NoSuch(context, name);

    private static Results<Created, ProblemHttpResult> Add(ManagementContext context, TenantRequest request)
    {
        if (string.IsNullOrEmpty(request.Name))
            return Problems.BadRequest("name is required.");
        if (context.Broker.Tenants is null || context.TenantAdmin is not { } admin)
            return NoSuch(context, request.Name);
        if (request.Name == TenantDirectory.DefaultTenant)
            return Problems.Conflict("The default tenant is configured in the Security section.");
        return admin.Put(request) is { } why
            ? Problems.Make(StatusCodes.Status422UnprocessableEntity, "Tenant settings not usable", why + " Nothing was changed.")
            : TypedResults.Created($"/api/v1/tenants/{Uri.EscapeDataString(request.Name)}");
    }

    private static Results<NoContent, ProblemHttpResult> SetQuotas(ManagementContext context, string name, TenantQuotas quotas)
    {
        if (context.Broker.Tenants is not { } tenants)
            return NoSuch(context, name);
        if (name == TenantDirectory.DefaultTenant)
            return Problems.Conflict("The default tenant's limits are the Broker section's.");
        if (quotas.MaxConnections < 0 || quotas.MaxSessions < 0 || quotas.MaxQueuedBytes < 0 || quotas.MaxRetainedMessages < 0
            || quotas.MaxRetainedBytes < 0 || quotas.MaxMessagesPerSecond <= 0)
            return Problems.BadRequest("Quotas must be above 0 (a rate) or not negative (the others); leave one out for no limit.");
        return (context.TenantAdmin?.SetQuotas(name, quotas) ?? tenants.SetQuotas(name, quotas)) ? TypedResults.NoContent() : NoSuch(context, name);
    }

    private static Results<NoContent, ProblemHttpResult> Remove(ManagementContext context, string name)
    {
        if (context.Broker.Tenants is not { } tenants)
            return NoSuch(context, name);
        if (name == TenantDirectory.DefaultTenant)
            return Problems.Conflict("The default tenant cannot be removed.");
        return (context.TenantAdmin?.Remove(name) ?? tenants.Remove(name)) ? TypedResults.NoContent() : NoSuch(context, name);
    }

    private static ProblemHttpResult NoSuch(ManagementContext context, string name) =>
        Problems.NotFound(context.Broker.Tenants is null ? $"No tenant '{name}': tenants are not enabled (set Tenants:File or Tenants:Enabled true)." : $"No tenant '{name}'.");
}
