using System.Globalization;
using System.Text.Json;

namespace Kirisame.Cluster.Tests;

/// Tenants in a cluster (docs/adr/0021, "In a cluster"; issue 18: tenants "must work in it"): each tenant is a cluster
/// of its own inside the cluster. Two nodes with the same tenants file, tenants "a" and "b" (anonymous inside, mapped by
/// the user name "tenant:user"): a tenant's messages, retained messages and client ids travel between its cores on the
/// nodes, and nothing reaches another tenant or the default one on any node. A message that must not arrive is checked
/// after a PINGREQ/PINGRESP round trip on the client that must not get it, after one that must has arrived.
public sealed class TenantClusterTests(TenantClusterTests.Fixture cluster) : IClassFixture<TenantClusterTests.Fixture>
{
    public sealed class Fixture : IAsyncLifetime
    {
        private readonly string _directory = Directory.CreateTempSubdirectory("kirisame-cluster-tenants-").FullName;

        internal ClusterNodes Nodes { get; private set; } = null!;

        private string File => Path.Combine(_directory, "tenants.json");

        public async Task InitializeAsync()
        {
            WriteTenants("a", "b");
            Nodes = await ClusterNodes.StartAsync(2, arguments: ["--Tenants:File", File]);
        }

        /// The tenants file both nodes read (each anonymous inside), written aside and moved into place as an editor would.
        public void WriteTenants(params string[] tenants)
        {
            var temporary = File + ".new";
            System.IO.File.WriteAllText(temporary, JsonSerializer.Serialize(new { Tenants = tenants.ToDictionary(t => t, _ => new { AllowAnonymous = true }) }));
            System.IO.File.Move(temporary, File, overwrite: true);
        }

        public async Task DisposeAsync()
        {
            await Nodes.DisposeAsync();
            Directory.Delete(_directory, recursive: true);
        }
    }

    private ClusterNodes Nodes => cluster.Nodes;

    private static Task<MqttNetClient> ConnectAsync(int port, string? tenant, string? clientId = null, Action<MqttClientOptionsBuilder>? configure = null) =>
        MqttNetClient.ConnectAsync(port, MqttProtocolVersion.V500, clientId ?? Unique.ClientId((tenant ?? "default") + "-"), o =>
        {
            if (tenant is not null)
                o.WithCredentials($"{tenant}:u", "");
            configure?.Invoke(o);
        });

    /// Routes reach the other node a moment after the SUBSCRIBE: probes from <paramref name="port"/>, in
    /// <paramref name="tenant"/>, until <paramref name="subscriber"/> has one.
    private static Task WaitUntilRoutedAsync(int port, string tenant, MqttNetClient subscriber, string prefix) =>
        Routes.WaitUntilRoutedAsync(port, subscriber, prefix, () => ConnectAsync(port, tenant));

    private static List<string> Payloads(MqttNetClient client, string prefix) => [.. Routes.Without(client.Messages, prefix).Select(m => m.Payload)];

    private static List<string> Numbers(int count) => [.. Enumerable.Range(0, count).Select(i => i.ToString(CultureInfo.InvariantCulture))];

    [Fact]
    public async Task QoS1_PublishedOnOneNode_ReachesTheTenantsSubscriberOnTheOther_AndNoOtherTenant()
    {
        var prefix = Unique.Topic("tenant-cross");
        await using var subscriberA = await ConnectAsync(Nodes[1].Port, "a");
        await using var hashB = await ConnectAsync(Nodes[1].Port, "b");
        await using var hashDefault = await ConnectAsync(Nodes[1].Port, tenant: null);
        await using var hashBOnFirst = await ConnectAsync(Nodes[0].Port, "b");
        await subscriberA.SubscribeAsync($"{prefix}/#", MqttQualityOfServiceLevel.AtLeastOnce);
        await hashB.SubscribeAsync("#", MqttQualityOfServiceLevel.AtLeastOnce);
        await hashDefault.SubscribeAsync("#", MqttQualityOfServiceLevel.AtLeastOnce);
        await hashBOnFirst.SubscribeAsync("#", MqttQualityOfServiceLevel.AtLeastOnce);
        await WaitUntilRoutedAsync(Nodes[0].Port, "a", subscriberA, prefix);

        await using var publisher = await ConnectAsync(Nodes[0].Port, "a");
        for (var i = 0; i < 20; i++)
        {
            var result = await publisher.PublishAsync($"{prefix}/m", i.ToString(CultureInfo.InvariantCulture), MqttQualityOfServiceLevel.AtLeastOnce);
            Assert.True(result.IsSuccess, $"PUBACK {result.ReasonCode}"); // after the other node accepted it
        }

        await Poll.UntilAsync(() => Payloads(subscriberA, prefix).Count >= 20, TimeSpan.FromSeconds(15));
        Assert.Equal(Numbers(20), Payloads(subscriberA, prefix));

        // Tenant b's and the default tenant's `#`, on either node, got nothing of tenant a's.
        foreach (var other in new[] { hashB, hashDefault, hashBOnFirst })
        {
            await other.PingAsync();
            Assert.DoesNotContain(other.Messages, m => m.Topic.StartsWith(prefix, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Retained_SetOnOneNode_IsTheTenantsOnTheOther_AndNotAnotherTenants()
    {
        var topic = Unique.Topic("tenant-retained") + "/config";
        await using (var publisher = await ConnectAsync(Nodes[0].Port, "a"))
            await publisher.PublishAsync(topic, "retained-in-a", MqttQualityOfServiceLevel.AtLeastOnce, retain: true);

        // Replicated to the other node after the PUBACK: asked by fresh subscribers until it is there.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            await using var reader = await ConnectAsync(Nodes[1].Port, "a");
            await reader.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);
            await reader.PingAsync(); // a retained message is sent before the SUBACK's successors
            if (reader.Messages.Any(m => m.Topic == topic && m.Payload == "retained-in-a"))
                break;
            Assert.True(DateTime.UtcNow < deadline, "tenant a's retained message did not reach the other node within 20 s");
            await Task.Delay(200);
        }

        foreach (var (port, tenant) in new[] { (Nodes[1].Port, "b"), (Nodes[0].Port, "b"), (Nodes[1].Port, (string?)null) })
        {
            await using var other = await ConnectAsync(port, tenant);
            await other.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);
            await other.PingAsync();
            Assert.Empty(other.Messages);
        }
    }

    [Fact]
    public async Task AClientId_IsOnePerTenantClusterWide_TakenOverOnlyByTheSameTenantOnAnotherNode() // [MQTT-3.1.4-3]
    {
        var clientId = Unique.ClientId("shared-id");
        var prefix = Unique.Topic("tenant-takeover");
        await using var first = await ConnectAsync(Nodes[0].Port, "a", clientId, o => o.WithCleanStart(true).WithSessionExpiryInterval(3600));
        await first.SubscribeAsync($"{prefix}/#", MqttQualityOfServiceLevel.AtLeastOnce);

        // The same id in tenant b, and in the default tenant, on the other node: other clients, nobody is taken over.
        await using var inB = await ConnectAsync(Nodes[1].Port, "b", clientId);
        await using var inDefault = await ConnectAsync(Nodes[1].Port, tenant: null, clientId);
        await first.PingAsync();
        Assert.False(first.Disconnected.IsCompleted, "a client of tenant a was taken over by another tenant's client with its id");

        // The same id in tenant a on the other node takes the session over, with its subscription.
        await using var second = await ConnectAsync(Nodes[1].Port, "a", clientId, o => o.WithCleanStart(false).WithSessionExpiryInterval(3600));
        var disconnected = await Poll.WithTimeout(first.Disconnected, TimeSpan.FromSeconds(15), "the first connection's DISCONNECT");
        Assert.Equal(MqttClientDisconnectReason.SessionTakenOver, disconnected.Reason); // [MQTT-3.1.4-3]
        Assert.True(second.ConnectResult!.IsSessionPresent, "the tenant's session did not move to the second node"); // [MQTT-3.2.2-3]
        Assert.False(inB.Disconnected.IsCompleted || inDefault.Disconnected.IsCompleted, "another tenant's client with the id was disconnected");

        await WaitUntilRoutedAsync(Nodes[0].Port, "a", second, prefix);
    }

    [Fact]
    public async Task ATenantAddedWhileTheNodesRun_IsOneAcrossTheCluster()
    {
        var tenant = "added-" + Guid.NewGuid().ToString("N")[..6];
        cluster.WriteTenants("a", "b", tenant); // each node reads it within a second or so, on its own
        var prefix = Unique.Topic("tenant-added");

        // Each node has it once its management API lists it.
        foreach (var node in Nodes.Nodes)
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            var tenants = new Uri($"http://127.0.0.1:{node.ManagementPort}/api/v1/tenants");
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (!(await http.GetStringAsync(tenants)).Contains($"\"{tenant}\"", StringComparison.Ordinal))
            {
                Assert.True(DateTime.UtcNow < deadline, $"the node on port {node.Port} did not add tenant {tenant} within 30 s");
                await Task.Delay(200);
            }
        }

        var subscriber = await ConnectAsync(Nodes[1].Port, tenant);
        await using (subscriber)
        {
            await subscriber.SubscribeAsync($"{prefix}/#", MqttQualityOfServiceLevel.AtLeastOnce);
            await WaitUntilRoutedAsync(Nodes[0].Port, tenant, subscriber, prefix);
            await using var publisher = await ConnectAsync(Nodes[0].Port, tenant);
            var result = await publisher.PublishAsync($"{prefix}/m", "0", MqttQualityOfServiceLevel.AtLeastOnce);
            Assert.True(result.IsSuccess, $"PUBACK {result.ReasonCode}");
            await Poll.UntilAsync(() => Payloads(subscriber, prefix).Count >= 1, TimeSpan.FromSeconds(15));
            Assert.Equal(["0"], Payloads(subscriber, prefix));
        }
    }

    [Fact]
    public async Task ASharedGroup_SpreadOverTheNodes_GetsEachOfItsTenantsMessagesOnce_AndNoneOfAnotherTenantsGroupOfTheSameName()
    {
        var prefix = Unique.Topic("tenant-shared");
        var group = $"$share/g/{prefix}/#";
        await using var memberOnFirst = await ConnectAsync(Nodes[0].Port, "a");
        await using var memberOnSecond = await ConnectAsync(Nodes[1].Port, "a");
        await using var sameGroupInB = await ConnectAsync(Nodes[1].Port, "b");
        await memberOnFirst.SubscribeAsync(group, MqttQualityOfServiceLevel.AtLeastOnce);
        await memberOnSecond.SubscribeAsync(group, MqttQualityOfServiceLevel.AtLeastOnce);
        await sameGroupInB.SubscribeAsync(group, MqttQualityOfServiceLevel.AtLeastOnce);
        // The second node's member is routed from the first once a non-shared subscription made after it is.
        await using var marker = await ConnectAsync(Nodes[1].Port, "a");
        await marker.SubscribeAsync($"{prefix}/#", MqttQualityOfServiceLevel.AtLeastOnce);
        await WaitUntilRoutedAsync(Nodes[0].Port, "a", marker, prefix);

        await using var publisher = await ConnectAsync(Nodes[0].Port, "a");
        for (var i = 0; i < 40; i++)
            await publisher.PublishAsync($"{prefix}/m", i.ToString(CultureInfo.InvariantCulture), MqttQualityOfServiceLevel.AtLeastOnce);
        await Poll.UntilAsync(() => Payloads(marker, prefix).Count >= 40, TimeSpan.FromSeconds(15));

        var members = new[] { memberOnFirst, memberOnSecond };
        await Poll.UntilAsync(() => members.Sum(m => Payloads(m, prefix).Count) >= 40, TimeSpan.FromSeconds(15));
        foreach (var member in members)
            await member.PingAsync();
        // Each message once in the tenant's group, and both nodes' members had some.
        Assert.Equal(Numbers(40), members.SelectMany(m => Payloads(m, prefix)).OrderBy(p => int.Parse(p, CultureInfo.InvariantCulture)).ToList());
        Assert.All(members, m => Assert.NotEmpty(Payloads(m, prefix)));
        await sameGroupInB.PingAsync();
        Assert.Empty(sameGroupInB.Messages);
    }
}
