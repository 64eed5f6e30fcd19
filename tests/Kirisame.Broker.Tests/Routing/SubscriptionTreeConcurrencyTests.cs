using System.Collections.Concurrent;
using Kirisame.Broker.Routing;
using Kirisame.Broker.Sessions;
using Kirisame.Protocol.Topics;
using static Kirisame.Broker.Tests.Routing.SubscriptionTreeTests;

namespace Kirisame.Broker.Tests.Routing;

/// The tree is changed by connections' SUBSCRIBE/UNSUBSCRIBE while publishers match on other threads, with
/// no lock on a cache hit. These tests churn it from several threads at once and check what must hold
/// throughout (a subscription nobody touches is always found; a thread sees its own change at once) and
/// exactly what the tree holds once the churn stops.
public sealed class SubscriptionTreeConcurrencyTests
{
    private const int Writers = 3;
    private const int Readers = 2;
    private const int ChangesPerWriter = 15_000;
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    // The writers' vocabulary: filters that overlap one another and the stable ones.
    private static readonly string[] s_filters =
    [
        "t/+/x", "t/#", "#", "t/1/x", "t/2/y", "+/+/+", "+/1/#", "t//x", "$SYS/#",
        "$share/g1/t/+/x", "$share/g2/t/#", "$share/keep/t/+/x",
    ];

    private static readonly string[] s_topics = ["t/1/x", "t/2/x", "t/2/y", "t/3/z", "t//x", "t", "u/1/x", "$SYS/t/1"];

    [Fact]
    public void ConcurrentChanges_NeverHideAnUntouchedSubscription_AndEndExact()
    {
        var tree = new SubscriptionTree();
        var stable = new Session("stable");
        tree.Add(Subscribe(stable, "t/+/x"));
        tree.Add(Subscribe(stable, "$share/keep/t/+/x"));
        var failures = new ConcurrentQueue<Exception>();
        var writersDone = 0;
        var matches = 0L;
        var owned = new Dictionary<Session, HashSet<string>>[Writers];

        var threads = new List<Thread>();
        for (var w = 0; w < Writers; w++)
        {
            var index = w;
            owned[index] = Enumerable.Range(0, 4).ToDictionary(i => new Session($"w{index}-{i}"), _ => new HashSet<string>(StringComparer.Ordinal));
            threads.Add(new Thread(() =>
            {
                try
                {
                    Write(tree, owned[index], new Random(index));
                }
                catch (Exception ex)
                {
                    failures.Enqueue(ex);
                }
                finally
                {
                    Interlocked.Increment(ref writersDone);
                }
            }));
        }

        for (var r = 0; r < Readers; r++)
        {
            var seed = 100 + r;
            threads.Add(new Thread(() =>
            {
                try
                {
                    var random = new Random(seed);
                    while (Volatile.Read(ref writersDone) < Writers && failures.IsEmpty)
                    {
                        var topic = s_topics[random.Next(s_topics.Length)];
                        AssertStableFound(tree.Match(topic), topic, stable);
                        Interlocked.Increment(ref matches);
                    }
                }
                catch (Exception ex)
                {
                    failures.Enqueue(ex);
                }
            }));
        }

        foreach (var thread in threads)
            thread.Start();
        foreach (var thread in threads)
            Assert.True(thread.Join(s_timeout), "a thread did not finish in time");

        Assert.True(failures.IsEmpty, string.Join("\n\n", failures));
        Assert.True(Interlocked.Read(ref matches) > 0, "the readers never matched while the writers ran");

        // Quiet now: every topic's answer is exactly what the writers left, plus the stable subscriptions.
        var held = owned.SelectMany(o => o).SelectMany(kv => kv.Value.Select(filter => (kv.Key, filter))).Append((stable, "t/+/x")).Append((stable, "$share/keep/t/+/x")).ToList();
        Assert.Equal(held.Count, tree.Count);
        foreach (var topic in s_topics)
            AssertExact(tree.Match(topic), topic, held);
    }

    /// Adds and removes subscriptions of the writer's own sessions; after each change, the writer's own view
    /// of one topic must already show it (no cached answer from before the change may be returned).
    private static void Write(SubscriptionTree tree, Dictionary<Session, HashSet<string>> mine, Random random)
    {
        var sessions = mine.Keys.ToArray();
        for (var i = 0; i < ChangesPerWriter; i++)
        {
            var session = sessions[random.Next(sessions.Length)];
            var filter = s_filters[random.Next(s_filters.Length)];
            if (mine[session].Contains(filter))
            {
                var (shareName, topicFilter) = Split(filter);
                Assert.True(tree.Remove(session, topicFilter, shareName), $"{session.ClientId} could not remove {filter}");
                mine[session].Remove(filter);
            }
            else
            {
                Assert.False(tree.Add(Subscribe(session, filter)), $"{session.ClientId} replaced {filter}, which it did not hold");
                mine[session].Add(filter);
            }

            var topic = s_topics[random.Next(s_topics.Length)];
            var result = tree.Match(topic);
            foreach (var s in sessions)
            {
                var expected = mine[s].Any(f => Split(f).Share is null && TopicRules.Matches(f, topic));
                var found = result.Sessions.Any(m => m.Session == s);
                Assert.True(expected == found, $"after {i + 1} changes, {s.ClientId} {(expected ? "missing from" : "still in")} the match for {topic}");
                foreach (var (name, groupFilter) in mine[s].Select(Split))
                {
                    if (name is null || !TopicRules.Matches(groupFilter, topic))
                        continue;
                    var group = result.SharedGroups.SingleOrDefault(g => g.Name == name && g.TopicFilter == groupFilter);
                    Assert.True(group is not null && group.Members.Any(m => m.Session == s), $"after {i + 1} changes, {s.ClientId} missing from group {name} for {topic}");
                }
            }
        }
    }

    private static void AssertStableFound(MatchResult result, string topic, Session stable)
    {
        if (!TopicRules.Matches("t/+/x", topic))
            return;
        Assert.True(result.Sessions.Any(m => m.Session == stable), $"the stable subscription was missing from a match for {topic}");
        var keep = result.SharedGroups.SingleOrDefault(g => g.Name == "keep");
        Assert.True(keep is not null, $"the stable shared group was missing from a match for {topic}");
        Assert.Contains(keep.Members, m => m.Session == stable);
        // Members change under the pick; it must still pick somebody (the stable member is always there).
        Assert.NotNull(keep.Pick());
    }

    private static void AssertExact(MatchResult result, string topic, List<(Session Session, string Filter)> held)
    {
        var plain = held.Where(h => Split(h.Filter).Share is null && TopicRules.Matches(h.Filter, topic))
            .Select(h => h.Session.ClientId).Distinct().Order();
        Assert.Equal(plain, result.Sessions.Select(m => m.Session.ClientId).Order());

        var groups = held.Select(h => (h.Session.ClientId, Split: Split(h.Filter)))
            .Where(m => m.Split.Share is not null && TopicRules.Matches(m.Split.Filter, topic))
            .Select(m => (Group: $"{m.Split.Share}:{m.Split.Filter}", m.ClientId))
            .GroupBy(m => m.Group)
            .ToDictionary(g => g.Key, g => g.Select(m => m.ClientId).Order().ToArray());
        var actual = result.SharedGroups.ToDictionary(g => $"{g.Name}:{g.TopicFilter}", g => g.Members.Select(m => m.Session.ClientId).Order().ToArray());
        Assert.Equal(groups.Keys.Order(), actual.Keys.Order());
        foreach (var (group, members) in groups)
            Assert.Equal(members, actual[group]);
    }

    /// "$share/g/f" → ("g", "f"); any other filter → (null, filter).
    private static (string? Share, string Filter) Split(string filter) =>
        TopicRules.TryParseShared(filter, out var share, out var topicFilter) ? (share, topicFilter) : (null, filter);
}
