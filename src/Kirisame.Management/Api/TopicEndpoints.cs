using Kirisame.Broker.Admin;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Kirisame.Management.Api;

/// /api/v1/topics: the topic tree as the console browses it, one level at a time. The broker keeps no list of
/// topics that have been published to (that would be a cost on every PUBLISH), so the tree is made, at each
/// request, of the topics that hold a retained message and the filters that sessions subscribe to — what the
/// broker does hold. Read only, off the message path: the same snapshots as /retained and /subscriptions.
internal static class TopicEndpoints
{
    /// As /retained: enough for a console, bounded for a broker with a very large retained set.
    private const int MaxScanned = 100_000;

    public static void Map(RouteGroupBuilder api) =>
        api.MapGet("/topics", List).WithTags("Topics").WithName("ListTopicLevels")
            .WithSummary("The levels right below parent (absent: the top level) of the tree made by retained topics and subscription filters, "
                + "each with its retained message and subscriptions, and how many of each are in its subtree. Of topics starting with '$', $SYS and those subscribed to.");

    private static Results<Ok<Page<TopicLevelView>>, ProblemHttpResult> List(IBrokerAdmin admin, HttpRequest request, string? parent, int? offset,
        int? limit)
    {
        // "?parent=" is the empty top level (of topics such as "/a"), which binding gives as null, like no parent.
        if (parent is null && request.Query.ContainsKey("parent"))
            parent = "";
        if (!Paging.TryCreate(offset, limit, out var paging, out var problem))
            return problem!;
        if (parent is not null && parent.Contains('#', StringComparison.Ordinal) && !parent.EndsWith('#'))
            return Problems.BadRequest("Nothing is below a '#' level.");
        string[] prefix = parent is null ? [] : parent.Split('/');
        var levels = new SortedDictionary<string, Counts>(StringComparer.Ordinal);

        // A parent with a wildcard level is a filter's path: no topic name is below it.
        if (parent is null || parent.IndexOfAny(['+', '#']) < 0)
        {
            // '#' does not match topics that start with '$' (MQTT 5.0 section 4.7.2): the broker's own are asked for by name.
            string[] filters = parent is null ? ["#", "$SYS/#"] : [parent + "/#"];
            foreach (var filter in filters)
            {
                foreach (var retained in admin.FindRetained(filter, MaxScanned))
                {
                    if (Below(retained.Topic, prefix) is { } path)
                        Count(levels, path, prefix.Length, retained: true);
                }
            }
        }

        foreach (var session in admin.GetSessions())
        {
            foreach (var subscription in admin.GetSubscriptions(session.ClientId) ?? [])
            {
                if (Below(subscription.Filter, prefix) is { } path)
                    Count(levels, path, prefix.Length, retained: false);
            }
        }

        var items = levels.Select(l => new TopicLevelView(l.Key, parent is null ? l.Key : parent + "/" + l.Key, l.Value.Retained,
            l.Value.Subscriptions, l.Value.RetainedInSubtree, l.Value.SubscriptionsInSubtree, l.Value.Children.Count)).ToList();
        return TypedResults.Ok(paging.Apply(items));
    }

    /// The levels of <paramref name="topic"/> when it is strictly below <paramref name="prefix"/>.
    private static string[]? Below(string topic, string[] prefix)
    {
        var levels = topic.Split('/');
        if (levels.Length <= prefix.Length)
            return null;
        for (var i = 0; i < prefix.Length; i++)
        {
            if (!string.Equals(levels[i], prefix[i], StringComparison.Ordinal))
                return null;
        }

        return levels;
    }

    private static void Count(SortedDictionary<string, Counts> levels, string[] path, int depth, bool retained)
    {
        var level = path[depth];
        if (!levels.TryGetValue(level, out var counts))
            levels[level] = counts = new Counts();
        var here = path.Length == depth + 1;
        if (retained)
        {
            counts.RetainedInSubtree++;
            counts.Retained |= here;
        }
        else
        {
            counts.SubscriptionsInSubtree++;
            if (here)
                counts.Subscriptions++;
        }

        if (!here)
            counts.Children.Add(path[depth + 1]);
    }

    private sealed class Counts
    {
        public bool Retained;
        public int Subscriptions;
        public int RetainedInSubtree;
        public int SubscriptionsInSubtree;
        public readonly HashSet<string> Children = new(StringComparer.Ordinal);
    }
}

/// One level of the topic tree. <paramref name="Retained"/>: a retained message is on exactly this topic;
/// <paramref name="Subscriptions"/>: subscriptions with exactly this filter; the subtree counts include this
/// level; <paramref name="Children"/>: distinct levels right below it.
internal sealed record TopicLevelView(string Level, string Topic, bool Retained, int Subscriptions, int RetainedInSubtree,
    int SubscriptionsInSubtree, int Children);
