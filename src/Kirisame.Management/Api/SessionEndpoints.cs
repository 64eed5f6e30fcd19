using Kirisame.Broker.Admin;
using Kirisame.Management.Security;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Kirisame.Management.Api;

/// /api/v1/sessions: queue depth, in-flight, drops, expiry; delete one; its subscriptions (list, add, remove).
internal static class SessionEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        var sessions = TenantScope.For(api.MapGroup("/sessions").WithTags("Sessions"));
        sessions.MapGet("", List).WithName("ListSessions")
            .WithSummary("Sessions, sorted by client id. Filters: id (part of the client id), connected.");
        sessions.MapGet("/{clientId}", Get).WithName("GetSession").WithSummary("One session.");
        sessions.MapDelete("/{clientId}", DeleteAsync).WithName("DeleteSession")
            .WithSummary("Ends a session: its client is disconnected (0x98), its subscriptions and queued messages are deleted.")
            .RequireAuthorization(ManagementRoles.Administrator);
        sessions.MapGet("/{clientId}/subscriptions", Subscriptions).WithName("ListSessionSubscriptions").WithSummary("A session's subscriptions.");
        sessions.MapPost("/{clientId}/subscriptions", Subscribe).WithName("AddSubscription")
            .WithSummary("Adds a subscription to a session (the ACL is not asked: the administrator decides). Matching retained messages are delivered.")
            .RequireAuthorization(ManagementRoles.Administrator);
        sessions.MapDelete("/{clientId}/subscriptions", Unsubscribe).WithName("RemoveSubscription")
            .WithSummary("Removes the subscription given by the filter query parameter.")
            .RequireAuthorization(ManagementRoles.Administrator);
    }

    private static Results<Ok<Page<SessionView>>, ProblemHttpResult> List(IBrokerAdmin admin, string? id, bool? connected, int? offset, int? limit)
    {
        if (!Paging.TryCreate(offset, limit, out var paging, out var problem))
            return problem!;
        var matching = admin.GetSessions()
            .Where(s => (id is null || s.ClientId.Contains(id, StringComparison.Ordinal)) && (connected is null || s.Connected == connected))
            .OrderBy(s => s.ClientId, StringComparer.Ordinal)
            .Select(SessionView.Of)
            .ToList();
        return TypedResults.Ok(paging.Apply(matching));
    }

    private static Results<Ok<SessionView>, ProblemHttpResult> Get(IBrokerAdmin admin, string clientId)
    {
        clientId = ClientIds.FromRoute(clientId);
        return admin.GetSession(clientId) is { } session ? TypedResults.Ok(SessionView.Of(session)) : ClientEndpoints.NoSuchClient(clientId);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(IBrokerAdmin admin, string clientId, CancellationToken cancellationToken)
    {
        clientId = ClientIds.FromRoute(clientId);
        return await admin.DeleteSessionAsync(clientId, cancellationToken) ? TypedResults.NoContent() : ClientEndpoints.NoSuchClient(clientId);
    }

    private static Results<Ok<IReadOnlyList<SubscriptionView>>, ProblemHttpResult> Subscriptions(IBrokerAdmin admin, string clientId)
    {
        clientId = ClientIds.FromRoute(clientId);
        if (admin.GetSubscriptions(clientId) is not { } subscriptions)
            return ClientEndpoints.NoSuchClient(clientId);
        return TypedResults.Ok<IReadOnlyList<SubscriptionView>>(
            [.. subscriptions.OrderBy(s => s.Filter, StringComparer.Ordinal).Select(s => SubscriptionView.Of(clientId, s))]);
    }

    private static Results<Created<SubscribeResult>, ProblemHttpResult> Subscribe(IBrokerAdmin admin, string clientId, SubscribeRequest request)
    {
        clientId = ClientIds.FromRoute(clientId);
        if (string.IsNullOrEmpty(request.Filter))
            return Problems.BadRequest("filter is required (a topic filter such as sensors/+/temperature).");
        if (request.Qos is < 0 or > 2)
            return Problems.BadRequest($"qos must be 0, 1 or 2 (was {request.Qos}).");
        if (request.RetainHandling is < 0 or > 2)
            return Problems.BadRequest($"retainHandling must be 0 (send on subscribe), 1 (only for a new subscription) or 2 (never) (was {request.RetainHandling}).");
        var subscription = new TopicSubscription(request.Filter, (QualityOfService)(request.Qos ?? 0), request.NoLocal ?? false,
            request.RetainAsPublished ?? false, (RetainHandling)(request.RetainHandling ?? 0));
        if (admin.Subscribe(clientId, subscription) is not { } outcome)
            return ClientEndpoints.NoSuchClient(clientId);
        if (ReasonCodes.IsError(outcome.Code))
        {
            return Problems.BadRequest(
                $"The subscription was refused: {BrokerText.Name(outcome.Code)} (0x{(byte)outcome.Code:X2}){(outcome.Reason is null ? "" : ": " + outcome.Reason)}.");
        }

        return TypedResults.Created($"/api/v1/sessions/{Uri.EscapeDataString(clientId)}/subscriptions",
            new SubscribeResult(clientId, request.Filter, (int)outcome.Code));
    }

    private static Results<NoContent, ProblemHttpResult> Unsubscribe(IBrokerAdmin admin, string clientId, string? filter)
    {
        clientId = ClientIds.FromRoute(clientId);
        if (string.IsNullOrEmpty(filter))
            return Problems.BadRequest("The filter query parameter names the subscription to remove.");
        return admin.Unsubscribe(clientId, filter) switch
        {
            null => ClientEndpoints.NoSuchClient(clientId),
            ReasonCode.Success => TypedResults.NoContent(),
            _ => Problems.NotFound($"Session '{clientId}' has no subscription '{filter}'."),
        };
    }
}

/// Reason codes as words, for messages.
internal static class BrokerText
{
    /// NotAuthorized → "not authorized".
    public static string Name(ReasonCode code)
    {
        var name = code.ToString();
        var text = new System.Text.StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (i > 0 && char.IsUpper(name[i]) && !char.IsUpper(name[i - 1]))
                text.Append(' ');
            text.Append(char.ToLowerInvariant(name[i]));
        }

        return text.ToString();
    }
}
