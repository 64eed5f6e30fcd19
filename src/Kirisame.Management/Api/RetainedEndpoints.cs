using Kirisame.Broker.Admin;
using Kirisame.Management.Security;
using Kirisame.Protocol;
using Kirisame.Protocol.Topics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Kirisame.Management.Api;

/// /api/v1/retained: browse by topic filter, read one message, delete one. Topics go in the query string: they
/// may contain '/', '+', '#' and levels that are empty, which a path cannot carry plainly.
internal static class RetainedEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        var retained = TenantScope.For(api.MapGroup("/retained").WithTags("Retained messages"));
        retained.MapGet("", List).WithName("ListRetained")
            .WithSummary("Retained messages whose topic matches filter (default #), sorted by topic, without payloads; at most limit of them (default 100).");
        retained.MapGet("/message", Get).WithName("GetRetained").WithSummary("The retained message of one topic, with its payload.");
        retained.MapDelete("/message", Delete).WithName("DeleteRetained")
            .WithSummary("Deletes the retained message of one topic, as a retained PUBLISH with an empty payload would.")
            .RequireAuthorization(ManagementRoles.Administrator);
    }

    /// Enough to sort and page; the admin seam answers in no particular order.
    private const int MaxScanned = 100_000;

    private static Results<Ok<Page<RetainedView>>, ProblemHttpResult> List(IBrokerAdmin admin, string? filter, int? offset, int? limit)
    {
        filter ??= "#";
        if (!Paging.TryCreate(offset, limit, out var paging, out var problem))
            return problem!;
        if (TopicRules.ValidateTopicFilter(filter) != DecodeError.None)
            return Problems.BadRequest($"'{filter}' is not a valid topic filter ('+' and '#' must stand alone in their level, '#' last).");
        var matching = admin.FindRetained(filter, MaxScanned).OrderBy(r => r.Topic, StringComparer.Ordinal).Select(RetainedView.Summary).ToList();
        return TypedResults.Ok(paging.Apply(matching));
    }

    private static Results<Ok<RetainedView>, ProblemHttpResult> Get(IBrokerAdmin admin, string? topic)
    {
        if (Check(topic) is { } problem)
            return problem;
        var found = admin.FindRetained(topic!, 1).FirstOrDefault(r => r.Topic == topic);
        return found is null ? NoRetained(topic!) : TypedResults.Ok(RetainedView.Full(found));
    }

    private static Results<NoContent, ProblemHttpResult> Delete(IBrokerAdmin admin, string? topic)
    {
        if (Check(topic) is { } problem)
            return problem;
        return admin.DeleteRetained(topic!) ? TypedResults.NoContent() : NoRetained(topic!);
    }

    internal static ProblemHttpResult? Check(string? topic) =>
        string.IsNullOrEmpty(topic) ? Problems.BadRequest("The topic query parameter is required.")
        : TopicRules.ValidateTopicName(topic) != DecodeError.None ? Problems.BadRequest($"'{topic}' is not a valid topic name (no '+' or '#').")
        : null;

    private static ProblemHttpResult NoRetained(string topic) => Problems.NotFound($"No retained message on topic '{topic}'.");
}
