using System.Security.Claims;
using Kirisame.Broker.Admin;
using Kirisame.Management.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Kirisame.Management.Api;

/// /api/v1/overview (the broker as a whole, or one tenant's core with ?tenant=), /api/v1/subscriptions (across sessions),
/// /api/v1/configuration (the effective configuration, secrets redacted) and /api/v1/me (who is asking).
internal static class OverviewEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        TenantScope.For(api.MapGet("/overview", Overview).WithTags("Overview").WithName("GetOverview")
            .WithSummary("Version, uptime, node, counts, totals since start, message rates over the last minute, drops by reason, listeners. "
                + "With tenant: that tenant's counts, totals, rates and drops (its uptime is the time since it was added)."));
        TenantScope.For(api.MapGet("/subscriptions", Subscriptions).WithTags("Subscriptions").WithName("ListSubscriptions")
            .WithSummary("Subscriptions of every session, sorted by client id and filter. Filters: clientId (part of it), filter (exact)."));
        api.MapGet("/configuration", (ManagementState state) => TypedResults.Ok(state.Configuration()))
            .WithTags("Configuration").WithName("GetConfiguration")
            .WithSummary("The configuration in force, defaults included; passwords are shown as \"***\".")
            .RequireAuthorization(ManagementRoles.Monitoring);
        api.MapGet("/me", Me).WithTags("Overview").WithName("GetCaller")
            .WithSummary("Who the credentials belong to and their role (the console shows it and offers only what the role allows).");
    }

    private static Ok<CallerView> Me(ClaimsPrincipal user)
    {
        var role = Enum.GetValues<ManagementRole>().OrderDescending().Select(ManagementRoles.Name).First(user.IsInRole);
        return TypedResults.Ok(new CallerView(user.Identity?.Name ?? "", role, user.FindFirstValue(ClaimTypes.AuthenticationMethod) ?? ""));
    }

    private static Ok<OverviewView> Overview(IBrokerAdmin admin, RateSampler rates, ManagementState state, TimeProvider time)
    {
        var overview = admin.GetOverview();
        var uptime = (long)(time.GetUtcNow() - overview.StartedAt).TotalSeconds;
        return TypedResults.Ok(new OverviewView(overview.Version, Environment.MachineName, overview.StartedAt, Math.Max(0, uptime),
            new ConnectionCounts(overview.ConnectedClients, overview.MaximumConnectedClients, overview.ConnectionsOpened),
            overview.Sessions, overview.Subscriptions, overview.RetainedMessages,
            new MessageCounts(overview.MessagesReceived, overview.MessagesSent, overview.MessagesDropped),
            new ByteCounts(overview.BytesReceived, overview.BytesSent), rates.Measure(admin, overview),
            SessionView.DropsByName(admin.GetDrops()), overview.StoreHealthy, state.Listeners()));
    }

    private static Results<Ok<Page<SubscriptionView>>, ProblemHttpResult> Subscriptions(IBrokerAdmin admin, string? clientId, string? filter,
        int? offset, int? limit)
    {
        if (!Paging.TryCreate(offset, limit, out var paging, out var problem))
            return problem!;
        var matching = admin.GetSessions()
            .Where(s => clientId is null || s.ClientId.Contains(clientId, StringComparison.Ordinal))
            .OrderBy(s => s.ClientId, StringComparer.Ordinal)
            .SelectMany(s => (admin.GetSubscriptions(s.ClientId) ?? [])
                .Where(sub => filter is null || sub.Filter == filter)
                .OrderBy(sub => sub.Filter, StringComparer.Ordinal)
                .Select(sub => SubscriptionView.Of(s.ClientId, sub)))
            .ToList();
        return TypedResults.Ok(paging.Apply(matching));
    }
}
