using System.Net;
using System.Text.Json;
using Kirisame.Testing;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Management;

/// GET /api/v1/topics: the tree of retained topics and subscription filters, one level at a time.
public sealed class TopicsApiTests(ManagementFixture fixture) : IClassFixture<ManagementFixture>
{
    private ManagedBroker Broker => fixture.Broker;

    private async Task<Dictionary<string, JsonElement>> LevelsAsync(string parent, Caller caller = Caller.Admin)
    {
        var page = await Broker.GetJsonAsync($"/api/v1/topics?parent={Uri.EscapeDataString(parent)}", caller);
        return page.GetProperty("items").EnumerateArray().ToDictionary(i => i.GetProperty("level").GetString()!, i => i);
    }

    [Fact]
    public async Task Levels_CountRetainedMessagesAndSubscriptions_HereAndBelow()
    {
        var root = Unique.Topic("tree");
        foreach (var topic in new[] { $"{root}/kitchen/temperature", $"{root}/kitchen/humidity", $"{root}/hall/temperature", $"{root}/kitchen" })
            Assert.Equal(0, (await MosquittoClients.PublishAsync(Broker.MqttPort, topic, "21", qos: 1, retain: true)).ExitCode);
        await using var client = await MqttNetClient.ConnectAsync(Broker.MqttPort, MqttProtocolVersion.V500, Unique.ClientId("tree"));
        await client.SubscribeAsync($"{root}/+/temperature", MqttQualityOfServiceLevel.AtMostOnce);
        await client.SubscribeAsync($"{root}/kitchen", MqttQualityOfServiceLevel.AtMostOnce);

        var levels = await LevelsAsync(root, Caller.Viewer);

        Assert.Equal(["+", "hall", "kitchen"], levels.Keys.Order(StringComparer.Ordinal));
        var kitchen = levels["kitchen"];
        Assert.Equal($"{root}/kitchen", kitchen.GetProperty("topic").GetString());
        Assert.True(kitchen.GetProperty("retained").GetBoolean());
        Assert.Equal(1, kitchen.GetProperty("subscriptions").GetInt32());
        Assert.Equal(3, kitchen.GetProperty("retainedInSubtree").GetInt32());
        Assert.Equal(1, kitchen.GetProperty("subscriptionsInSubtree").GetInt32());
        Assert.Equal(2, kitchen.GetProperty("children").GetInt32());
        Assert.False(levels["hall"].GetProperty("retained").GetBoolean());
        Assert.Equal(0, levels["+"].GetProperty("retainedInSubtree").GetInt32());
        Assert.Equal(1, levels["+"].GetProperty("subscriptionsInSubtree").GetInt32());

        var wildcard = await LevelsAsync($"{root}/+");
        Assert.Equal(1, Assert.Single(wildcard).Value.GetProperty("subscriptions").GetInt32());
        var below = await LevelsAsync($"{root}/kitchen");
        Assert.Equal(["humidity", "temperature"], below.Keys.Order(StringComparer.Ordinal));
        Assert.All(below.Values, l => Assert.Equal(0, l.GetProperty("children").GetInt32()));
    }

    [Fact]
    public async Task AnEmptyLevel_IsALevelOfItsOwn()
    {
        var level = Guid.NewGuid().ToString("N");
        Assert.Equal(0, (await MosquittoClients.PublishAsync(Broker.MqttPort, $"/{level}/x", "1", qos: 1, retain: true)).ExitCode);

        var top = await Broker.GetJsonAsync("/api/v1/topics");
        var empty = Assert.Single(top.GetProperty("items").EnumerateArray(), i => i.GetProperty("level").GetString() == "");
        var below = await Broker.GetJsonAsync("/api/v1/topics?parent=");

        Assert.Equal("", empty.GetProperty("topic").GetString());
        var node = Assert.Single(below.GetProperty("items").EnumerateArray(), i => i.GetProperty("level").GetString() == level);
        Assert.Equal($"/{level}", node.GetProperty("topic").GetString());
        Assert.Equal(1, node.GetProperty("retainedInSubtree").GetInt32());
    }

    [Fact]
    public async Task TheTopLevel_ShowsSys_AndNothingIsBelowAHashLevel()
    {
        var top = await Broker.GetJsonAsync("/api/v1/topics");
        Assert.Contains(top.GetProperty("items").EnumerateArray(), i => i.GetProperty("level").GetString() == "$SYS");

        var refused = await Broker.SendAsync(HttpMethod.Get, "/api/v1/topics?parent=a%2F%23%2Fb");
        ProblemAssert.Is(HttpStatusCode.BadRequest, refused, "'#'");
    }
}
