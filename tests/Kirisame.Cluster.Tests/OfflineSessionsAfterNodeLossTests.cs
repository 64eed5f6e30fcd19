using System.Globalization;

namespace Kirisame.Cluster.Tests;

/// The client-id registry's records of persistent sessions kept without a connection live in partition grains, soft
/// state spread over the nodes. When a node dies, the partitions it had start again empty elsewhere, and each node
/// states again what it holds — its offline sessions too, so that a client reconnecting on another node still gets
/// its session moved to it (docs/adr/0020).
public sealed class OfflineSessionsAfterNodeLossTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task OfflineSessions_StillMoveToTheNodeTheirClientsReturnTo_AfterAnotherNodeDied()
    {
        await using var cluster = await ClusterNodes.StartAsync(3);
        // Enough ids that some of their 64 partitions were placed on the node that will die.
        var ids = Enumerable.Range(0, 30).Select(i => Unique.ClientId("kept" + i.ToString(CultureInfo.InvariantCulture))).ToList();
        foreach (var id in ids)
        {
            await using var client = await MqttNetClient.ConnectAsync(cluster[0].Port, MqttProtocolVersion.V500, id,
                o => o.WithCleanStart(false).WithSessionExpiryInterval(3600));
            await client.SubscribeAsync("kept/" + id, MqttQualityOfServiceLevel.AtLeastOnce);
        }

        cluster[2].Kill();
        // The first node states its sessions again once it has seen the death (a log line says so; nothing else shows it),
        // and the clients return to the second once it has seen the death too (it states its own, none, the same way):
        // before, its claims may still go to the dead silo's partitions as it last knew them.
        foreach (var node in new[] { cluster[0], cluster[1] })
        {
            Assert.True(await node.Process.Process.WaitForLineAsync(l => l.Contains("offline session(s) held here to the registry again", StringComparison.Ordinal), s_timeout) is not null,
                node.Process.Describe());
        }

        var fresh = new List<string>();
        foreach (var id in ids)
        {
            await using var returned = await MqttNetClient.ConnectAsync(cluster[1].Port, MqttProtocolVersion.V500, id,
                o => o.WithCleanStart(false).WithSessionExpiryInterval(3600));
            if (!returned.ConnectResult!.IsSessionPresent)
                fresh.Add(id);
        }

        Assert.True(fresh.Count == 0, $"no session for {string.Join(", ", fresh)}\n{cluster[0].Process.Describe()}\n{cluster[1].Process.Describe()}"); // [MQTT-3.2.2-3]: each session continued, moved from the first node
    }
}
