using System.Globalization;

namespace Kirisame.Cluster.Tests;

/// "$share/{group}/{filter}" with members on several nodes: each message goes to one member of the group in the
/// whole cluster (MQTT 5 section 4.8.2), spread across the nodes' members (docs/adr/0020).
public sealed class SharedSubscriptionTests
{
    private ClusterNodes Nodes { get; set; } = null!;

    [Fact]
    public async Task SharedGroup_WithMembersOnOtherNodes_GetsEachMessageOnce_SpreadOverTheNodes_AndOverAMemberOnThePublishersNode()
    {
        // One node at a time: three cold nodes at once need most of KirisameProcess's 30 s on two busy cores.
        await using var nodes = await ClusterNodes.StartAsync(1);
        await nodes.AddAsync(1);
        await nodes.AddAsync(1);
        Nodes = nodes;
        var prefix = Unique.Topic("shared");
        var topic = $"{prefix}/m";
        var members = new List<MqttNetClient>();
        try
        {
            foreach (var node in new[] { 1, 2 })
                members.Add(await JoinAsync(node, prefix, topic));

            await using var publisher = await MqttNetClient.ConnectAsync(Nodes[0].Port, MqttProtocolVersion.V500, Unique.ClientId("pub"));
            await PublishAndCheckAsync(publisher, members, topic, first: 0, count: 60);

            // A member on the publisher's node too: the group's messages are spread over all three.
            members.Add(await JoinAsync(0, prefix, topic));
            await PublishAndCheckAsync(publisher, members, topic, first: 60, count: 60);
        }
        finally
        {
            foreach (var member in members)
                await member.DisposeAsync();
        }
    }

    /// A member of the group on node <paramref name="node"/>, once the publisher's node (node 0) routes to it: the group
    /// and a plain probe filter go out in one route change stream, in that order, so a probe that arrives means the
    /// group's route arrived before it.
    private async Task<MqttNetClient> JoinAsync(int node, string prefix, string topic)
    {
        var member = await MqttNetClient.ConnectAsync(Nodes[node].Port, MqttProtocolVersion.V500, Unique.ClientId($"member{node}"));
        await member.SubscribeAsync($"$share/g/{topic}", MqttQualityOfServiceLevel.AtLeastOnce);
        var probes = $"{prefix}/probe{node}";
        await member.SubscribeAsync($"{probes}/#", MqttQualityOfServiceLevel.AtMostOnce);
        await Routes.WaitUntilRoutedAsync(Nodes[0].Port, member, probes);
        return member;
    }

    private static async Task PublishAndCheckAsync(MqttNetClient publisher, List<MqttNetClient> members, string topic, int first, int count)
    {
        for (var i = first; i < first + count; i++)
        {
            var result = await publisher.PublishAsync(topic, i.ToString(CultureInfo.InvariantCulture), MqttQualityOfServiceLevel.AtLeastOnce);
            Assert.Equal(MqttClientPublishReasonCode.Success, result.ReasonCode);
        }

        List<string> Received(MqttNetClient member) =>
            [.. member.Messages.Where(m => m.Topic == topic).Select(m => m.Payload).Where(p => int.Parse(p, CultureInfo.InvariantCulture) >= first)];
        await Poll.UntilAsync(() => members.Sum(m => Received(m).Count) >= count, TimeSpan.FromSeconds(15));
        foreach (var member in members)
            await member.PingAsync(); // a duplicate would have arrived before the answer
        var all = members.SelectMany(Received).ToList();
        Assert.Equal(Enumerable.Range(first, count).Select(i => i.ToString(CultureInfo.InvariantCulture)).Order(),
            all.Order());
        Assert.All(members, member => Assert.NotEmpty(Received(member)));
    }
}
