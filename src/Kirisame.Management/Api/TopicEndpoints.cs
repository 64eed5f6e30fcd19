using Kirisame.Broker.Admin;
using Kirisame.Protocol;
using Kirisame.Protocol.Topics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Kirisame.Management.Api;

/// /api/v1/topics: the topic tree as the console browses it, one level at a time, made at each request of what
/// the broker holds — the topics that hold a retained message, the filters that sessions subscribe to — and the
/// topics messages were published to in the last rate window, with their estimated rates (the broker's
/// Diagnostics/TopicRates: bounded, sampled under load). Read only, off the message path: snapshots.
/// /api/v1/topics/rates: the busiest topics of that window, for finding what loads the broker.
internal static class TopicEndpoints
{
    /// As /retained: enough for a console, bounded for a broker with a very large retained set.
    private const int MaxScanned = 100_000;

    public static void Map(RouteGroupBuilder api)
    {
        TenantScope.For(api.MapGet("/topics", List).WithTags("Topics").WithName("ListTopicLevels")
            .WithSummary("The levels right below parent (absent: the top level) of the tree made by retained topics, subscription filters "
                + "and the topics published to in the last rate window, each with its retained message, subscriptions and estimated messages "
                + "per second, and the same summed over its subtree. Of topics starting with '$', $SYS and those subscribed or published to."));
        TenantScope.For(api.MapGet("/topics/rates", Rates).WithTags("Topics").WithName("ListTopicRates")
            .WithSummary("The topics published to in the last rate window (10 s), busiest first, with estimated messages per second; "
                + "filter (a topic filter) narrows them. Counted exactly at light load, sampled at heavy load; at most "
                + "Broker:TopicRateTopics topics are tracked, messages to others show as untracked. 404 when rates are turned off."));
    }

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
        var rates = admin.GetTopicRates();

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

            foreach (var (topic, perSecond) in rates?.PerSecond ?? new Dictionary<string, double>())
            {
                if (Below(topic, prefix) is { } path)
                    CountRate(levels, path, prefix.Length, perSecond);
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
            l.Value.Subscriptions, l.Value.RetainedInSubtree, l.Value.SubscriptionsInSubtree, l.Value.Children.Count,
            Math.Round(l.Value.PerSecond, 2), Math.Round(l.Value.PerSecondInSubtree, 2))).ToList();
        return TypedResults.Ok(paging.Apply(items));
    }

    private static Results<Ok<TopicRatesView>, ProblemHttpResult> Rates(IBrokerAdmin admin, string? filter, int? offset, int? limit)
    {
        if (!Paging.TryCreate(offset, limit, out var paging, out var problem))
            return problem!;
        if (filter is not null && TopicRules.ValidateTopicFilter(filter) != DecodeError.None)
            return Problems.BadRequest($"'{filter}' is not a valid topic filter ('+' and '#' must stand alone in their level, '#' last).");
        if (admin.GetTopicRates() is not { } rates)
            return Problems.NotFound("Per-topic rates are turned off (Broker:TopicRateTopics is 0).");
        var items = rates.PerSecond.Where(r => filter is null || TopicRules.Matches(filter, r.Key))
            .OrderByDescending(r => r.Value).ThenBy(r => r.Key, StringComparer.Ordinal)
            .Select(r => new TopicRateView(r.Key, Math.Round(r.Value, 2))).ToList();
        return TypedResults.Ok(new TopicRatesView(rates.Window.TotalSeconds, rates.SampleInterval, Math.Round(rates.UntrackedPerSecond, 2),
            paging.Apply(items)));
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

    private static void CountRate(SortedDictionary<string, Counts> levels, string[] path, int depth, double perSecond)
    {
        var level = path[depth];
        if (!levels.TryGetValue(level, out var counts))
            levels[level] = counts = new Counts();
        counts.PerSecondInSubtree += perSecond;
        if (path.Length == depth + 1)
            counts.PerSecond += perSecond;
        else
            counts.Children.Add(path[depth + 1]);
    }

    private sealed class Counts
    {
        public bool Retained;
        public double PerSecond;
        public double PerSecondInSubtree;
        public int Subscriptions;
        public int RetainedInSubtree;
        public int SubscriptionsInSubtree;
        public readonly HashSet<string> Children = new(StringComparer.Ordinal);
    }
}

/// One level of the topic tree. <paramref name="Retained"/>: a retained message is on exactly this topic;
/// <paramref name="Subscriptions"/>: subscriptions with exactly this filter; the subtree counts include this
/// level; <paramref name="Children"/>: distinct levels right below it; <paramref name="MessagesPerSecond"/>: the
/// estimated rate of messages published to exactly this topic in the last rate window, and summed over the subtree.
internal sealed record TopicLevelView(string Level, string Topic, bool Retained, int Subscriptions, int RetainedInSubtree,
    int SubscriptionsInSubtree, int Children, double MessagesPerSecond, double MessagesPerSecondInSubtree);

/// The busiest topics of the last rate window (<paramref name="WindowSeconds"/> long). One message in
/// <paramref name="SampleInterval"/> was counted (1: all of them); <paramref name="UntrackedPerSecond"/>: messages
/// to topics beyond the tracked number.
internal sealed record TopicRatesView(double WindowSeconds, int SampleInterval, double UntrackedPerSecond, Page<TopicRateView> Topics);

internal sealed record TopicRateView(string Topic, double MessagesPerSecond);
