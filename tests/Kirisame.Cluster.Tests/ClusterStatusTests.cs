using System.Text.Json;

namespace Kirisame.Cluster.Tests;

/// The cluster as operators see it from any node: GET /api/v1/cluster, $SYS/broker/cluster/…, kirisame_cluster_nodes in
/// /metrics; the sessions standing for other nodes are not clients.
public sealed class ClusterStatusTests
{
    [Fact]
    public async Task EveryNode_ListsTheNodes_PublishesClusterSys_AndCountsNodesInMetrics_WithoutListingNodeSessionsAsClients()
    {
        await using var cluster = await ClusterNodes.StartAsync(1, arguments: ["--Broker:SysInterval", "1"]);
        await cluster.AddAsync(1);
        await using var elsewhere = await MqttNetClient.ConnectAsync(cluster[1].Port, MqttProtocolVersion.V500, Unique.ClientId("elsewhere"));
        await using var here = await MqttNetClient.ConnectAsync(cluster[0].Port, MqttProtocolVersion.V500, Unique.ClientId("here"));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{cluster[0].ManagementPort}"), Timeout = TimeSpan.FromSeconds(10) };

        JsonElement nodes = default;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            using (var document = JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/v1/cluster", UriKind.Relative))))
                nodes = document.RootElement.GetProperty("nodes").Clone();
            if (nodes.GetArrayLength() == 2 && nodes.EnumerateArray().All(n => n.GetProperty("status").GetString() == "Active"
                && n.GetProperty("connectedClients").ValueKind == JsonValueKind.Number && n.GetProperty("connectedClients").GetInt64() == 1))
                break;
            Assert.True(DateTime.UtcNow < deadline, nodes.ToString());
            await Task.Delay(200);
        }

        Assert.Single(nodes.EnumerateArray(), n => n.GetProperty("self").GetBoolean());

        // Summed over the nodes: one client here, one on the other node.
        await here.SubscribeAsync("$SYS/broker/cluster/#", MqttQualityOfServiceLevel.AtMostOnce);
        Assert.True(await Poll.UntilAsync(() => Latest(here, "clients/connected") == "2" && Latest(here, "nodes") == "2", TimeSpan.FromSeconds(20)),
            string.Join("\n", here.Messages.Select(m => $"{m.Topic} {m.Payload}")));
        Assert.StartsWith("127.0.0.1:", Latest(here, "node/address"), StringComparison.Ordinal); // the silo address with its generation

        var metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Matches(new System.Text.RegularExpressions.Regex(@"^kirisame_cluster_nodes(\{[^}]*\})? 2( |$)", System.Text.RegularExpressions.RegexOptions.Multiline),
            metrics);

        var clients = await http.GetStringAsync(new Uri("/api/v1/clients", UriKind.Relative));
        Assert.DoesNotContain("cluster:", clients, StringComparison.Ordinal);
    }

    private static string? Latest(MqttNetClient client, string name) =>
        client.Messages.LastOrDefault(m => m.Topic == "$SYS/broker/cluster/" + name)?.Payload;
}
