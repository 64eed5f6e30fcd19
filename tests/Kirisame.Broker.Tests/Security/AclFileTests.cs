using Kirisame.Broker.Security;

namespace Kirisame.Broker.Tests.Security;

public sealed class AclFileTests
{
    private static readonly AclFile s_acl = AclFile.Parse("""
        # anonymous clients
        topic read public/#

        user alice
        topic readwrite alice/#
        topic read shared/+/status
        topic deny alice/secret
        topic read $SYS/#

        user bob
        topic write telemetry/bob
        topic everything/bob

        pattern readwrite devices/%c/#
        pattern read users/%u/inbox
        pattern write # 
        pattern deny forbidden/#
        """);

    [Theory]
    [InlineData(null, "public/news", true)] // "topic read" alone would not, but "pattern write #" applies to everyone
    [InlineData("alice", "alice/x/y", true)]
    [InlineData("alice", "alice/secret", false)] // deny wins over the broader grant
    [InlineData("alice", "bob/x", true)] // pattern write #
    [InlineData("alice", "forbidden/x", false)] // pattern deny wins over pattern write #
    [InlineData("bob", "telemetry/bob", true)]
    [InlineData("bob", "everything/bob", true)] // no access word = readwrite
    [InlineData("alice", "$SYS/broker/x", false)] // a leading # does not reach $ topics
    public void Publish(string? user, string topic, bool allowed) => Assert.Equal(allowed, s_acl.CanPublish("client1", user, topic));

    [Theory]
    [InlineData(null, "public/#", true)]
    [InlineData(null, "public/news", true)]
    [InlineData(null, "#", false)] // wider than the grant
    [InlineData(null, "public", true)] // public/# matches its parent level
    [InlineData("alice", "alice/+/z", true)]
    [InlineData("alice", "alice/#", false)] // overlaps the denied alice/secret
    [InlineData("alice", "alice/secret", false)]
    [InlineData("alice", "shared/room/status", true)]
    [InlineData("alice", "shared/+/status", true)]
    [InlineData("alice", "shared/#", false)]
    [InlineData("alice", "$SYS/broker/uptime", true)]
    [InlineData("bob", "$SYS/#", false)]
    [InlineData("bob", "telemetry/bob", false)] // write only
    [InlineData("alice", "$share/g/alice/x", true)] // shared subscriptions are checked by their inner filter
    [InlineData("alice", "$share/g/other", false)]
    public void Subscribe(string? user, string filter, bool allowed) => Assert.Equal(allowed, s_acl.CanSubscribe("client1", user, filter));

    [Fact]
    public void Patterns_SubstituteClientIdAndUserName()
    {
        Assert.True(s_acl.CanSubscribe("dev7", null, "devices/dev7/#"));
        Assert.False(s_acl.CanSubscribe("dev7", null, "devices/dev8/#"));
        Assert.True(s_acl.CanSubscribe("c", "carol", "users/carol/inbox"));
        Assert.False(s_acl.CanSubscribe("c", null, "users/carol/inbox")); // %u needs a user name
    }

    [Theory]
    [InlineData("#")]
    [InlineData("+")]
    [InlineData("a/b")]
    public void Patterns_AreNotApplied_ForIdsThatWouldWidenTheFilter(string clientId)
    {
        // A client calling itself "#" must not be granted devices/#/# (or anything else).
        Assert.False(s_acl.CanSubscribe(clientId, null, "devices/#"));
        Assert.False(s_acl.CanSubscribe(clientId, null, $"devices/{clientId}/x"));
    }

    [Theory]
    [InlineData("topic read a/#/b", "line 1")]
    [InlineData("user alice\ntopic read", "line 2")]
    [InlineData("user alice\nsubscribe a", "line 2")]
    [InlineData("user", "line 1")]
    public void Parse_NamesTheBadLine(string text, string expected)
    {
        var error = Assert.Throws<FormatException>(() => AclFile.Parse(text));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a/#", "a/+/b", true)]
    [InlineData("a/+", "a/b", true)]
    [InlineData("a/+", "a/#", false)]
    [InlineData("a/b", "a/+", false)]
    [InlineData("#", "$SYS/x", false)]
    [InlineData("+/x", "$SYS/x", false)]
    [InlineData("#", "#", true)]
    public void Covers(string rule, string filter, bool expected) => Assert.Equal(expected, AclFile.Covers(rule, filter));

    [Theory]
    [InlineData("a/#", "a", true)]
    [InlineData("a/+", "+/b", true)]
    [InlineData("a/b", "a/c", false)]
    [InlineData("a/+/c", "a/b", false)]
    [InlineData("#", "$SYS/#", false)]
    [InlineData("$SYS/#", "$SYS/broker", true)]
    public void Overlaps(string a, string b, bool expected)
    {
        Assert.Equal(expected, AclFile.Overlaps(a, b));
        Assert.Equal(expected, AclFile.Overlaps(b, a));
    }
}
