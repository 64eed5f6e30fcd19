using Kirisame.Broker.Admin;
using Kirisame.Management.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Kirisame.Management.Api;

/// /api/v1/clients: every client the broker holds a session for, connected or not; kick one.
internal static class ClientEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        var clients = TenantScope.For(api.MapGroup("/clients").WithTags("Clients"));
        clients.MapGet("", List).WithName("ListClients")
            .WithSummary("Clients, sorted by client id. Filters: id (part of the client id), user (exact), address (start of the remote address), listener (exact), connected.");
        clients.MapGet("/{clientId}", Get).WithName("GetClient").WithSummary("One client.");
        clients.MapPost("/{clientId}/disconnect", Disconnect).WithName("DisconnectClient")
            .WithSummary("Kicks a connected client: MQTT 5 clients get DISCONNECT 0x98 (administrative action); its will is published; the session stays.")
            .RequireAuthorization(ManagementRoles.Administrator);
    }

    private static Results<Ok<Page<ClientView>>, ProblemHttpResult> List(IBrokerAdmin admin, string? id, string? user, string? address,
        string? listener, bool? connected, int? offset, int? limit)
    {
        if (!Paging.TryCreate(offset, limit, out var paging, out var problem))
            return problem!;
        var matching = admin.GetClients()
            .Where(c => (id is null || c.ClientId.Contains(id, StringComparison.Ordinal))
                && (user is null || c.UserName == user)
                && (address is null || (c.Origin?.StartsWith(address, StringComparison.OrdinalIgnoreCase) ?? false))
                && (listener is null || string.Equals(c.Listener, listener, StringComparison.OrdinalIgnoreCase))
                && (connected is null || c.Connected == connected))
            .OrderBy(c => c.ClientId, StringComparer.Ordinal)
            .Select(ClientView.Of)
            .ToList();
        return TypedResults.Ok(paging.Apply(matching));
    }

    private static Results<Ok<ClientView>, ProblemHttpResult> Get(IBrokerAdmin admin, string clientId)
    {
        clientId = ClientIds.FromRoute(clientId);
        return admin.GetClient(clientId) is { } client ? TypedResults.Ok(ClientView.Of(client)) : NoSuchClient(clientId);
    }

    private static Results<NoContent, ProblemHttpResult> Disconnect(IBrokerAdmin admin, string clientId)
    {
        clientId = ClientIds.FromRoute(clientId);
        if (admin.DisconnectClient(clientId))
            return TypedResults.NoContent();
        return admin.GetClient(clientId) is null
            ? NoSuchClient(clientId)
            : Problems.Conflict($"Client '{clientId}' is not connected (its session waits for it; DELETE /api/v1/sessions/{{clientId}} ends it).");
    }

    internal static ProblemHttpResult NoSuchClient(string clientId) => Problems.NotFound($"The broker holds no session for client '{clientId}'.");
}
