using Kirisame.Broker.Routing;
using Kirisame.Broker.Sessions;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Topics;

namespace Kirisame.Broker.Tests.Routing;

/// The topic → subscriptions index on its own, without connections: what <see cref="SubscriptionTree.Match"/>
/// returns for wildcards, '$' topics, empty levels, shared groups and overlapping subscriptions, and that its
/// per-topic cache never answers with what was true before a change.
public sealed class SubscriptionTreeTests
{
    private readonly SubscriptionTree _tree = new();

    [Theory]
    [InlineData("a/b", "a/b", true)]
    [InlineData("a/b", "a/b/c", false)]
    [InlineData("a/b", "a", false)]
    [InlineData("a/b", "A/b", false)] // [MQTT-4.7.3-4] no normalisation
    [InlineData("+", "a", true)]
    [InlineData("+", "a/b", false)]
    [InlineData("+/b/c", "a/b/c", true)]
    [InlineData("a/+/c", "a/b/c", true)]
    [InlineData("a/b/+", "a/b/c", true)]
    [InlineData("a/b/+", "a/b", false)] // '+' needs a level to stand for
    [InlineData("+/+/+", "a/b/c", true)]
    [InlineData("+/+/+", "a/b", false)]
    [InlineData("+/+/+", "a/b/c/d", false)]
    [InlineData("#", "a", true)]
    [InlineData("#", "a/b/c", true)]
    [InlineData("a/#", "a", true)] // section 4.7.1.2: "#" also matches the parent level (an example, not a numbered statement)
    [InlineData("a/#", "a/b", true)]
    [InlineData("a/#", "a/b/c", true)]
    [InlineData("a/#", "ab", false)]
    [InlineData("a/b/#", "a", false)]
    [InlineData("+/#", "a", true)]
    [InlineData("+/b/#", "a/b", true)]
    [InlineData("a/+/#", "a", false)]
    [InlineData("a/+", "a/$b", true)] // only a leading '$' level is special
    public void Filter_MatchesTopic_AsSpecified(string filter, string topic, bool matches)
    {
        var session = new Session("s");
        _tree.Add(Subscribe(session, filter));

        Assert.Equal(matches, Matched(topic).Contains("s"));
        Assert.Equal(TopicRules.Matches(filter, topic), matches); // the reference matcher agrees with the table
    }

    // A level may be empty: "a//b" has three levels, "/a" starts with an empty one (section 4.7.1.1 note).
    [Theory]
    [InlineData("a//b", "a//b", true)]
    [InlineData("a//b", "a/b", false)]
    [InlineData("a/+/b", "a//b", true)]
    [InlineData("/a", "/a", true)]
    [InlineData("/a", "a", false)]
    [InlineData("+/a", "/a", true)]
    [InlineData("+", "/a", false)]
    [InlineData("+/+", "/a", true)]
    [InlineData("#", "/a", true)]
    [InlineData("/#", "/a", true)]
    [InlineData("/#", "a", false)]
    [InlineData("a/+", "a/", true)]
    [InlineData("a/", "a/", true)]
    [InlineData("a/", "a", false)]
    [InlineData("a/#", "a/", true)]
    [InlineData("a//#", "a/", true)] // '#' includes the parent level, "a/"
    [InlineData("a//#", "a", false)]
    [InlineData("a//#", "a//", true)]
    public void EmptyLevels_AreLevels(string filter, string topic, bool matches)
    {
        var session = new Session("s");
        _tree.Add(Subscribe(session, filter));

        Assert.Equal(matches, Matched(topic).Contains("s"));
    }

    // [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic name starting with '$'.
    [Theory]
    [InlineData("#", "$SYS/broker/uptime", false)]
    [InlineData("+/broker/uptime", "$SYS/broker/uptime", false)]
    [InlineData("+/#", "$SYS/broker/uptime", false)]
    [InlineData("+", "$SYS", false)]
    [InlineData("#", "$SYS", false)]
    [InlineData("#", "$other/x", false)]
    [InlineData("$SYS/#", "$SYS/broker/uptime", true)]
    [InlineData("$SYS/#", "$SYS", true)] // the parent level (section 4.7.1.2), '$' or not
    [InlineData("$SYS/+/uptime", "$SYS/broker/uptime", true)]
    [InlineData("$SYS/broker/+", "$SYS/broker/uptime", true)]
    [InlineData("$SYS/broker/uptime", "$SYS/broker/uptime", true)]
    [InlineData("$sys/#", "$SYS/broker/uptime", false)]
    [InlineData("$SYS/#", "SYS/broker/uptime", false)]
    [InlineData("#", "SYS/broker/uptime", true)]
    [InlineData("$share/g/#", "$SYS/broker/uptime", false)] // the filter of a shared subscription starts after the share name
    [InlineData("$share/g/$SYS/#", "$SYS/broker/uptime", true)]
    public void DollarTopics_AreNotMatchedByLeadingWildcards(string filter, string topic, bool matches)
    {
        var session = new Session("s");
        _tree.Add(Subscribe(session, filter));

        var result = _tree.Match(topic);
        var found = result.Sessions.Any(m => m.Session == session) || result.SharedGroups.Any(g => g.Members.Any(m => m.Session == session));
        Assert.Equal(matches, found);
    }

    [Fact]
    public void Match_FindsEverySubscriberOfEveryMatchingFilter()
    {
        _tree.Add(Subscribe(new Session("exact"), "home/kitchen/temperature"));
        _tree.Add(Subscribe(new Session("plus-first"), "+/kitchen/temperature"));
        _tree.Add(Subscribe(new Session("plus-middle"), "home/+/temperature"));
        _tree.Add(Subscribe(new Session("plus-last"), "home/kitchen/+"));
        _tree.Add(Subscribe(new Session("hash"), "#"));
        _tree.Add(Subscribe(new Session("home-hash"), "home/#"));
        _tree.Add(Subscribe(new Session("deep-hash"), "home/kitchen/temperature/#"));
        _tree.Add(Subscribe(new Session("other"), "home/garage/temperature"));
        _tree.Add(Subscribe(new Session("too-deep"), "home/kitchen/temperature/x"));
        _tree.Add(Subscribe(new Session("too-short"), "home/+"));

        Assert.Equal(
            ["deep-hash", "exact", "hash", "home-hash", "plus-first", "plus-last", "plus-middle"],
            Matched("home/kitchen/temperature"));
    }

    [Fact]
    public void NoSubscriptions_MatchIsEmpty()
    {
        Assert.Same(MatchResult.Empty, _tree.Match("a/b"));
        _tree.Add(Subscribe(new Session("s"), "x/#"));
        Assert.Empty(_tree.Match("a/b").Sessions);
        Assert.Empty(_tree.Match("a/b").SharedGroups);
    }

    [Fact]
    public void Remove_StopsMatching_AndLeavesOtherSubscriptionsAlone()
    {
        var one = new Session("one");
        var two = new Session("two");
        _tree.Add(Subscribe(one, "a/+"));
        _tree.Add(Subscribe(two, "a/+"));
        _tree.Add(Subscribe(one, "a/#"));

        Assert.True(_tree.Remove(one, "a/+", shareName: null));

        Assert.Equal(["one", "two"], Matched("a/b")); // one still has "a/#"
        Assert.True(_tree.Remove(one, "a/#", shareName: null));
        Assert.Equal(["two"], Matched("a/b"));
        Assert.Equal(1, _tree.Count);
    }

    [Fact]
    public void Remove_OfWhatIsNotThere_ReturnsFalse_AndCountsNothing()
    {
        var one = new Session("one");
        _tree.Add(Subscribe(one, "a/b"));

        Assert.False(_tree.Remove(one, "a/c", shareName: null)); // no such node
        Assert.False(_tree.Remove(new Session("two"), "a/b", shareName: null)); // node, but not this session
        Assert.False(_tree.Remove(one, "a/b", shareName: "g")); // not a shared subscription
        Assert.False(_tree.Remove(one, "a", shareName: null)); // a node on the way, with no subscriptions
        Assert.Equal(1, _tree.Count);
        Assert.Equal(["one"], Matched("a/b"));
    }

    [Fact]
    public void Count_CountsSubscriptions_NotReplacements()
    {
        var one = new Session("one");
        Assert.False(_tree.Add(Subscribe(one, "a")));
        Assert.False(_tree.Add(Subscribe(one, "b")));
        Assert.False(_tree.Add(Subscribe(new Session("two"), "a")));
        Assert.False(_tree.Add(Subscribe(one, "$share/g/a")));
        Assert.True(_tree.Add(Subscribe(one, "a", QualityOfService.AtLeastOnce)));
        Assert.True(_tree.Add(Subscribe(one, "$share/g/a", QualityOfService.AtLeastOnce)));
        Assert.Equal(4, _tree.Count);

        Assert.True(_tree.Remove(one, "a", null));
        Assert.True(_tree.Remove(one, "a", "g"));
        Assert.False(_tree.Remove(one, "a", "g"));
        Assert.Equal(2, _tree.Count);
    }

    // [MQTT-3.8.4-3] a SUBSCRIBE with a filter identical to an existing one replaces it: one subscription, the new options.
    [Fact]
    public void Resubscribe_ReplacesOptions_InsteadOfAddingASecondSubscription()
    {
        var session = new Session("s");
        _tree.Add(Subscribe(session, "a/+", QualityOfService.AtMostOnce, subscriptionId: 1));
        Assert.Equal(QualityOfService.AtMostOnce, Only(_tree.Match("a/b")).All.MaximumQoS); // cached now

        Assert.True(_tree.Add(Subscribe(session, "a/+", QualityOfService.ExactlyOnce, subscriptionId: 2, retainAsPublished: true)));

        var match = Only(_tree.Match("a/b"));
        Assert.Equal(QualityOfService.ExactlyOnce, match.All.MaximumQoS);
        Assert.True(match.All.RetainAsPublished);
        Assert.Equal([2u], match.All.SubscriptionIds);
        Assert.Equal(1, _tree.Count);
    }

    // The server may deliver overlapping subscriptions of one session once, at the highest of their QoS, and in v5
    // with every Subscription Identifier (section 4.7.1 / 3.3.4; [MQTT-3.3.4-3], [MQTT-3.3.4-4]). The tree groups them
    // per session so that the broker does exactly that.
    [Fact]
    public void OverlappingSubscriptionsOfOneSession_AreOneMatch_WithTheHighestQoS_AndEveryIdentifier()
    {
        var session = new Session("s");
        _tree.Add(Subscribe(session, "a/+", QualityOfService.AtMostOnce, subscriptionId: 1));
        _tree.Add(Subscribe(session, "a/#", QualityOfService.ExactlyOnce, subscriptionId: 2));
        _tree.Add(Subscribe(session, "a/b", QualityOfService.AtLeastOnce)); // no identifier
        _tree.Add(Subscribe(session, "+/b", QualityOfService.AtMostOnce, subscriptionId: 3, retainAsPublished: true));
        _tree.Add(Subscribe(new Session("other"), "a/b"));

        var result = _tree.Match("a/b");

        Assert.Equal(2, result.Sessions.Length);
        var mine = result.Sessions.Single(m => m.Session == session);
        Assert.True(mine.All.Any);
        Assert.Equal(QualityOfService.ExactlyOnce, mine.All.MaximumQoS);
        Assert.True(mine.All.RetainAsPublished); // any one of them asked for it
        Assert.Equal([1u, 2u, 3u], mine.All.SubscriptionIds.Order());
        Assert.Equal(mine.All, mine.Own with { SubscriptionIds = mine.All.SubscriptionIds }); // no No Local: the same for its own messages
    }

    [Fact]
    public void OverlappingSubscriptions_ThatDoNotMatchTheTopic_AddNothing()
    {
        var session = new Session("s");
        _tree.Add(Subscribe(session, "a/+", QualityOfService.AtMostOnce, subscriptionId: 1));
        _tree.Add(Subscribe(session, "a/b/#", QualityOfService.ExactlyOnce, subscriptionId: 2));

        var mine = Only(_tree.Match("a/c"));

        Assert.Equal(QualityOfService.AtMostOnce, mine.All.MaximumQoS);
        Assert.Equal([1u], mine.All.SubscriptionIds);
    }

    // [MQTT-3.8.3-3] No Local: the session's own messages are not sent back through that subscription; its
    // other subscriptions still apply.
    [Fact]
    public void NoLocalSubscriptions_AreLeftOutOfOwn()
    {
        var session = new Session("s");
        _tree.Add(Subscribe(session, "a/+", QualityOfService.ExactlyOnce, subscriptionId: 1, noLocal: true));
        _tree.Add(Subscribe(session, "a/#", QualityOfService.AtMostOnce, subscriptionId: 2));
        _tree.Add(Subscribe(session, "x", QualityOfService.AtLeastOnce, subscriptionId: 3, noLocal: true));

        var overlapping = Only(_tree.Match("a/b"));
        Assert.Equal(QualityOfService.ExactlyOnce, overlapping.All.MaximumQoS);
        Assert.True(overlapping.Own.Any);
        Assert.Equal(QualityOfService.AtMostOnce, overlapping.Own.MaximumQoS);
        Assert.Equal([2u], overlapping.Own.SubscriptionIds);

        var onlyNoLocal = Only(_tree.Match("x"));
        Assert.True(onlyNoLocal.All.Any);
        Assert.False(onlyNoLocal.Own.Any);
    }

    [Fact]
    public void SharedSubscription_IsAGroup_NotASessionMatch()
    {
        var member = new Session("member");
        _tree.Add(Subscribe(member, "$share/g/a/+"));

        var result = _tree.Match("a/b");

        Assert.Empty(result.Sessions);
        var group = Assert.Single(result.SharedGroups);
        Assert.Equal("g", group.Name);
        Assert.Equal("a/+", group.TopicFilter);
        Assert.Same(member, Assert.Single(group.Members).Session);
        Assert.Same(group, _tree.FindSharedGroup("g", "a/+"));
        Assert.Empty(_tree.Match("$share/g/a/b").SharedGroups); // "$share/…" is not a topic the filter stands for
    }

    // Section 4.8.2: each message matching a shared subscription goes to one session of the group; each group
    // that matches gets the message, independently of other groups and of non-shared subscriptions.
    [Fact]
    public void EachSharedGroup_GivesEachMessageToOneMember_RoundRobin()
    {
        var g1 = new[] { new Session("g1-a"), new Session("g1-b"), new Session("g1-c") };
        var g2 = new[] { new Session("g2-a"), new Session("g2-b") };
        foreach (var s in g1)
            _tree.Add(Subscribe(s, "$share/one/t/+"));
        foreach (var s in g2)
            _tree.Add(Subscribe(s, "$share/two/t/#"));
        var plain = new Session("plain");
        _tree.Add(Subscribe(plain, "t/+"));
        _tree.Add(Subscribe(g1[0], "t/x")); // a member may also hold a non-shared subscription

        const int messages = 60;
        var received = new Dictionary<string, int>();
        for (var i = 0; i < messages; i++)
        {
            var result = _tree.Match("t/x");
            Assert.Equal(["g1-a", "plain"], result.Sessions.Select(m => m.Session.ClientId).Order());
            Assert.Equal(["one", "two"], result.SharedGroups.Select(g => g.Name).Order());
            foreach (var group in result.SharedGroups)
            {
                var picked = group.Pick();
                Assert.NotNull(picked);
                Assert.Same(group, _tree.FindSharedGroup(group.Name, group.TopicFilter));
                received[picked.Session.ClientId] = received.GetValueOrDefault(picked.Session.ClientId) + 1;
            }
        }

        Assert.Equal(messages, g1.Sum(s => received.GetValueOrDefault(s.ClientId)));
        Assert.Equal(messages, g2.Sum(s => received.GetValueOrDefault(s.ClientId)));
        // None is connected, so none is preferred: the turn goes round evenly.
        Assert.All(g1, s => Assert.Equal(messages / g1.Length, received.GetValueOrDefault(s.ClientId)));
        Assert.All(g2, s => Assert.Equal(messages / g2.Length, received.GetValueOrDefault(s.ClientId)));
    }

    // A shared subscription is identified by share name and filter together: the same name on another filter, or
    // another name on the same filter, is another group.
    [Fact]
    public void SharedGroups_AreKeyedByNameAndFilter()
    {
        var a = new Session("a");
        var b = new Session("b");
        var c = new Session("c");
        _tree.Add(Subscribe(a, "$share/g/x/+"));
        _tree.Add(Subscribe(b, "$share/g/y/+"));
        _tree.Add(Subscribe(c, "$share/h/x/+"));

        var x = _tree.Match("x/1").SharedGroups;
        Assert.Equal([("g", "a"), ("h", "c")], x.Select(g => (g.Name, Assert.Single(g.Members).Session.ClientId)).Order());
        var y = Assert.Single(_tree.Match("y/1").SharedGroups);
        Assert.Same(b, Assert.Single(y.Members).Session);
    }

    [Fact]
    public void SharedGroup_MemberThatUnsubscribes_IsNotPicked_AndAnEmptyGroupIsNotMatched()
    {
        var a = new Session("a");
        var b = new Session("b");
        _tree.Add(Subscribe(a, "$share/g/t"));
        _tree.Add(Subscribe(b, "$share/g/t"));
        var group = Assert.Single(_tree.Match("t").SharedGroups);

        Assert.True(_tree.Remove(a, "t", "g"));

        for (var i = 0; i < 4; i++)
            Assert.Same(b, group.Pick()!.Session);
        Assert.True(_tree.Remove(b, "t", "g"));
        Assert.Null(group.Pick());
        Assert.Empty(_tree.Match("t").SharedGroups);
    }

    [Fact]
    public void SharedGroup_Resubscribe_ReplacesTheMembersOptions()
    {
        var a = new Session("a");
        _tree.Add(Subscribe(a, "$share/g/t", QualityOfService.AtMostOnce));
        Assert.True(_tree.Add(Subscribe(a, "$share/g/t", QualityOfService.ExactlyOnce)));

        var member = Assert.Single(Assert.Single(_tree.Match("t").SharedGroups).Members);
        Assert.Equal(QualityOfService.ExactlyOnce, member.GrantedQoS);
    }

    [Fact]
    public void SharedGroup_Pick_NeverChoosesTheExcludedMember()
    {
        var a = new Session("a");
        var b = new Session("b");
        _tree.Add(Subscribe(a, "$share/g/t"));
        _tree.Add(Subscribe(b, "$share/g/t"));
        var group = Assert.Single(_tree.Match("t").SharedGroups);

        for (var i = 0; i < 10; i++)
            Assert.Same(b, group.Pick(exclude: a)!.Session);
        _tree.Remove(b, "t", "g");
        Assert.Null(group.Pick(exclude: a));
    }

    // The cache: a topic matched once is answered from memory; every change after that must be seen.
    [Fact]
    public void CachedMatch_ReflectsSubscribeAfterIt()
    {
        Assert.Empty(Matched("a/b"));
        Assert.Empty(Matched("a/b")); // answered from the cache

        _tree.Add(Subscribe(new Session("exact"), "a/b"));
        Assert.Equal(["exact"], Matched("a/b"));
        _tree.Add(Subscribe(new Session("wild"), "+/+"));
        Assert.Equal(["exact", "wild"], Matched("a/b"));
        _tree.Add(Subscribe(new Session("shared"), "$share/g/#"));
        Assert.Single(_tree.Match("a/b").SharedGroups);
    }

    [Fact]
    public void CachedMatch_ReflectsUnsubscribeAfterIt()
    {
        var exact = new Session("exact");
        var wild = new Session("wild");
        var shared = new Session("shared");
        _tree.Add(Subscribe(exact, "a/b"));
        _tree.Add(Subscribe(wild, "a/#"));
        _tree.Add(Subscribe(shared, "$share/g/a/+"));
        Assert.Equal(["exact", "wild"], Matched("a/b"));
        Assert.Single(_tree.Match("a/b").SharedGroups);

        _tree.Remove(wild, "a/#", null);
        Assert.Equal(["exact"], Matched("a/b"));
        _tree.Remove(shared, "a/+", "g");
        Assert.Empty(_tree.Match("a/b").SharedGroups);
        _tree.Remove(exact, "a/b", null);
        Assert.Empty(Matched("a/b"));
    }

    [Fact]
    public void CachedMatch_ReflectsAChangeToAnotherTopicsFilter()
    {
        // Every topic's cached answer goes, not only those of the filter that changed: "x/+" must be seen by "x/y".
        Assert.Empty(Matched("x/y"));
        Assert.Empty(Matched("a/b"));
        _tree.Add(Subscribe(new Session("s"), "x/+"));
        Assert.Equal(["s"], Matched("x/y"));
        Assert.Empty(Matched("a/b"));
    }

    [Fact]
    public void ManyTopics_PastTheCacheBound_StillMatchCorrectly()
    {
        // The cache is cleared when it holds 100 000 topics; answers before and after must be the same.
        var session = new Session("s");
        _tree.Add(Subscribe(session, "t/+/even"));
        for (var i = 0; i < 100_050; i++)
        {
            var topic = $"t/{i}/{(i % 2 == 0 ? "even" : "odd")}";
            Assert.Equal(i % 2 == 0, _tree.Match(topic).Sessions.Length == 1);
        }

        Assert.Single(_tree.Match("t/0/even").Sessions);
        Assert.Empty(_tree.Match("t/1/odd").Sessions);
    }

    /// Random filters (wildcards, '$', empty levels) held by random sessions, random topics: the tree must agree
    /// with the reference matcher on every topic, after subscribes, after replacements and after unsubscribes.
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void RandomFilters_MatchLikeTheReferenceMatcher(int seed)
    {
        var random = new Random(seed);
        var sessions = Enumerable.Range(0, 12).Select(i => new Session($"s{i}")).ToArray();
        var held = new HashSet<(Session Session, string Filter)>();
        var topics = Enumerable.Range(0, 200).Select(_ => RandomTopics.Topic(random)).Distinct().ToArray();

        for (var round = 0; round < 6; round++)
        {
            for (var i = 0; i < 150; i++)
            {
                var session = sessions[random.Next(sessions.Length)];
                var filter = RandomTopics.Filter(random);
                _tree.Add(Subscribe(session, filter));
                held.Add((session, filter));
            }

            foreach (var (session, filter) in held.Where(_ => random.Next(3) == 0).ToList())
            {
                Assert.True(_tree.Remove(session, filter, null));
                held.Remove((session, filter));
            }

            Assert.Equal(held.Count, _tree.Count);
            foreach (var topic in topics)
            {
                var expected = held.Where(h => TopicRules.Matches(h.Filter, topic)).Select(h => h.Session.ClientId).Distinct().Order();
                Assert.Equal(expected, Matched(topic));
            }
        }
    }

    private string[] Matched(string topic) => [.. _tree.Match(topic).Sessions.Select(m => m.Session.ClientId).Order()];

    private static SessionMatch Only(MatchResult result) => Assert.Single(result.Sessions);

    /// A subscription as the broker makes one from a SUBSCRIBE entry.
    internal static Subscription Subscribe(Session session, string filter, QualityOfService qos = QualityOfService.AtMostOnce,
        uint subscriptionId = 0, bool noLocal = false, bool retainAsPublished = false)
    {
        var shared = TopicRules.TryParseShared(filter, out var shareName, out var topicFilter);
        return new Subscription(session, filter, topicFilter, shared ? shareName : null,
            new TopicSubscription(filter, qos, noLocal, retainAsPublished), subscriptionId);
    }
}

/// Topics and filters drawn from a small vocabulary, so that random ones overlap often.
internal static class RandomTopics
{
    private static readonly string[] s_levels = ["a", "b", "c", ""];

    public static string Topic(Random random)
    {
        var levels = new string[random.Next(1, 5)];
        for (var i = 0; i < levels.Length; i++)
            levels[i] = s_levels[random.Next(s_levels.Length)];
        if (random.Next(8) == 0)
            levels[0] = "$SYS";
        var topic = string.Join('/', levels);
        return topic.Length == 0 ? "a" : topic; // a topic name is never empty [MQTT-4.7.3-1]
    }

    public static string Filter(Random random)
    {
        var levels = new List<string>();
        var count = random.Next(1, 5);
        for (var i = 0; i < count; i++)
        {
            var roll = random.Next(10);
            if (roll == 0 || (roll == 1 && i == count - 1))
            {
                levels.Add("#"); // only last [MQTT-4.7.1-1]
                break;
            }

            levels.Add(roll <= 3 ? "+" : roll == 4 && i == 0 ? "$SYS" : s_levels[random.Next(s_levels.Length)]);
        }

        var filter = string.Join('/', levels);
        return filter.Length == 0 ? "+" : filter;
    }
}
