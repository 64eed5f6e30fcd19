using System.Text;
using Kirisame.Protocol.Topics;

namespace Kirisame.Protocol.Tests;

public class TopicRulesTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("a/b/c")]
    [InlineData("/")]                  // two empty levels: legal [MQTT-4.7.3-1 only forbids empty topics]
    [InlineData("a//b")]
    [InlineData("/finance")]
    [InlineData("$SYS/broker/load")]
    [InlineData(" ")]
    [InlineData("ü/日本")]
    public void ValidateTopicName_AcceptsTopicNames(string topic)
    {
        Assert.Equal(DecodeError.None, TopicRules.ValidateTopicName(Encoding.UTF8.GetBytes(topic)));
        Assert.Equal(DecodeError.None, TopicRules.ValidateTopicName(topic.AsSpan()));
    }

    [Theory]
    [InlineData("", DecodeError.EmptyTopicName)]           // [MQTT-4.7.3-1]
    [InlineData("a/+", DecodeError.WildcardInTopicName)]   // [MQTT-3.3.2-2]
    [InlineData("+", DecodeError.WildcardInTopicName)]
    [InlineData("#", DecodeError.WildcardInTopicName)]
    [InlineData("a/#", DecodeError.WildcardInTopicName)]
    [InlineData("a+b", DecodeError.WildcardInTopicName)]
    public void ValidateTopicName_RefusesEmptyNamesAndWildcards(string topic, DecodeError error)
    {
        Assert.Equal(error, TopicRules.ValidateTopicName(Encoding.UTF8.GetBytes(topic)));
        Assert.Equal(error, TopicRules.ValidateTopicName(topic.AsSpan()));
    }

    [Theory]
    [InlineData("#")]
    [InlineData("+")]
    [InlineData("a/#")]
    [InlineData("a/+/b")]
    [InlineData("+/+")]
    [InlineData("/+")]
    [InlineData("+/#")]
    [InlineData("/")]
    [InlineData("//")]
    [InlineData("$SYS/#")]
    [InlineData("sport/tennis/player1/#")]
    [InlineData("$share/g/#")]
    [InlineData("$share/group/a/+/c")]
    [InlineData("$share")]             // not a shared subscription: no '/' after "$share"
    [InlineData("$sharex/a")]
    public void ValidateTopicFilter_AcceptsFilters(string filter)
    {
        Assert.Equal(DecodeError.None, TopicRules.ValidateTopicFilter(Encoding.UTF8.GetBytes(filter)));
        Assert.Equal(DecodeError.None, TopicRules.ValidateTopicFilter(filter));
    }

    [Theory]
    [InlineData("", DecodeError.EmptyTopicFilter)]                  // [MQTT-4.7.3-1]
    [InlineData("a/#/b", DecodeError.InvalidTopicFilter)]           // '#' must be last [MQTT-4.7.1-1]
    [InlineData("#/", DecodeError.InvalidTopicFilter)]
    [InlineData("a#", DecodeError.InvalidTopicFilter)]              // '#' must be a whole level [MQTT-4.7.1-1]
    [InlineData("sport/tennis#", DecodeError.InvalidTopicFilter)]
    [InlineData("##", DecodeError.InvalidTopicFilter)]
    [InlineData("a+", DecodeError.InvalidTopicFilter)]              // '+' must be a whole level [MQTT-4.7.1-2]
    [InlineData("+a", DecodeError.InvalidTopicFilter)]
    [InlineData("sport+", DecodeError.InvalidTopicFilter)]
    [InlineData("a/b+/c", DecodeError.InvalidTopicFilter)]
    [InlineData("++", DecodeError.InvalidTopicFilter)]
    [InlineData("$share//x", DecodeError.InvalidSharedSubscription)]   // empty ShareName [MQTT-4.8.2-1]
    [InlineData("$share/g", DecodeError.InvalidSharedSubscription)]    // no '/' and filter after the ShareName [MQTT-4.8.2-2]
    [InlineData("$share/g/", DecodeError.InvalidSharedSubscription)]   // empty filter after the ShareName [MQTT-4.8.2-2]
    [InlineData("$share/a+b/x", DecodeError.InvalidSharedSubscription)] // ShareName with '+' [MQTT-4.8.2-2]
    [InlineData("$share/#/x", DecodeError.InvalidSharedSubscription)]   // ShareName with '#'
    [InlineData("$share/g/a#", DecodeError.InvalidTopicFilter)]        // the filter part follows the usual rules
    public void ValidateTopicFilter_RefusesMalformedFilters(string filter, DecodeError error)
    {
        Assert.Equal(error, TopicRules.ValidateTopicFilter(Encoding.UTF8.GetBytes(filter)));
        Assert.Equal(error, TopicRules.ValidateTopicFilter(filter));
    }

    [Theory]
    // Examples of section 4.7.1.
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1", true)]
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1/ranking", true)]
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true)]
    [InlineData("sport/#", "sport", true)]                 // '#' also matches the parent level
    [InlineData("a/#", "a", true)]
    [InlineData("a/#", "a/", true)]
    [InlineData("a/#", "ab", false)]
    [InlineData("#", "a/b/c", true)]
    [InlineData("#", "/", true)]
    [InlineData("sport/tennis/+", "sport/tennis/player1", true)]
    [InlineData("sport/tennis/+", "sport/tennis/player1/ranking", false)]
    [InlineData("sport/+", "sport", false)]
    [InlineData("sport/+", "sport/", true)]                // '+' matches an empty level
    [InlineData("+/+", "/finance", true)]
    [InlineData("/+", "/finance", true)]
    [InlineData("+", "/finance", false)]
    [InlineData("+/+", "/", true)]
    [InlineData("a/+/c", "a//c", true)]
    [InlineData("+/b", "/b", true)]
    [InlineData("a/+/#", "a/b", true)]
    [InlineData("a/+/#", "a", false)]
    [InlineData("a/b", "a/b", true)]
    [InlineData("a/b", "a/b/c", false)]
    [InlineData("a/b", "a", false)]
    [InlineData("a/b/", "a/b", false)]
    [InlineData("A", "a", false)]                          // case-sensitive
    [InlineData("ü/+", "ü/日", true)]
    // Topics starting with '$' are not matched by filters starting with a wildcard [MQTT-4.7.2-1].
    [InlineData("#", "$SYS/x", false)]
    [InlineData("+/x", "$SYS/x", false)]
    [InlineData("+", "$SYS", false)]
    [InlineData("+/#", "$SYS/broker", false)]
    [InlineData("$SYS/#", "$SYS/x", true)]
    [InlineData("$SYS/+", "$SYS/x", true)]
    [InlineData("$SYS/monitor/+", "$SYS/monitor/Clients", true)]
    [InlineData("x/#", "x/$y", true)]                      // '$' only matters at the start
    public void Matches_FollowsTheWildcardRules(string filter, string topic, bool expected)
        => Assert.Equal(expected, TopicRules.Matches(filter, topic));

    [Theory]
    [InlineData("a/b/c", new[] { "a", "b", "c" })]
    [InlineData("a", new[] { "a" })]
    [InlineData("", new[] { "" })]
    [InlineData("/", new[] { "", "" })]
    [InlineData("/a", new[] { "", "a" })]
    [InlineData("a/", new[] { "a", "" })]
    [InlineData("a//b", new[] { "a", "", "b" })]
    [InlineData("$SYS/#", new[] { "$SYS", "#" })]
    public void TopicLevels_SplitsOnEverySlash(string topic, string[] levels)
    {
        var actual = new List<string>();
        foreach (var level in new TopicLevels(topic))
            actual.Add(level.ToString());
        Assert.Equal(levels, actual);
    }

    [Theory]
    [InlineData("$share/g/a/b", "g", "a/b")]
    [InlineData("$share/group/#", "group", "#")]
    [InlineData("$share/g/+/x", "g", "+/x")]
    [InlineData("$share/g//", "g", "/")]
    public void TryParseShared_SplitsShareNameAndFilter(string filter, string shareName, string topicFilter)
    {
        Assert.True(TopicRules.TryParseShared(filter, out var actualShare, out var actualFilter));
        Assert.Equal(shareName, actualShare);
        Assert.Equal(topicFilter, actualFilter);
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("$SHARE/g/a")]   // the prefix is case-sensitive
    [InlineData("$share")]
    [InlineData("$share/g")]     // no filter: not a shared subscription (and refused by ValidateTopicFilter)
    [InlineData("share/g/a")]
    public void TryParseShared_IsFalseForOtherFilters(string filter)
    {
        Assert.False(TopicRules.TryParseShared(filter, out _, out var topicFilter));
        Assert.Equal(filter, topicFilter);
    }
}
