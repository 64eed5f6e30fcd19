using Microsoft.AspNetCore.Http.HttpResults;

namespace Kirisame.Management.Api;

/// offset and limit of a list request, checked: a bad one is a 400 that says what is allowed.
internal readonly record struct Paging(int Offset, int Limit)
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    public static bool TryCreate(int? offset, int? limit, out Paging paging, out ProblemHttpResult? problem)
    {
        paging = new Paging(offset ?? 0, limit ?? DefaultLimit);
        problem = paging.Offset < 0 ? Problems.BadRequest($"offset must be 0 or more (was {paging.Offset}).")
            : paging.Limit is < 1 or > MaxLimit ? Problems.BadRequest($"limit must be between 1 and {MaxLimit} (was {paging.Limit}).")
            : null;
        return problem is null;
    }

    public Page<T> Apply<T>(IReadOnlyCollection<T> matching) => new(matching.Count, Offset, Limit, [.. matching.Skip(Offset).Take(Limit)]);
}

/// Client ids arrive as a path segment. Routing decodes every escape but %2F (so that a segment cannot become
/// two); MQTT client ids may contain '/', so it is decoded here.
internal static class ClientIds
{
    public static string FromRoute(string value) =>
        value.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);
}
