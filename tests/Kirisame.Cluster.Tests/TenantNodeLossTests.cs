using System.Text.Json;

namespace Kirisame.Cluster.Tests;

/// A node lost or shut down with tenants (docs/adr/0021, "In a cluster"): the wills of a killed node's clients are
/// published by a surviving node in each client's own tenant, and reach nobody of another tenant or of the default one;
/// a node shutting down hands each tenant's persistent sessions to the same tenant on a live node. Each test its own cluster.
public sealed class TenantNodeLossTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("kirisame-cluster-tenants-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static Task<MqttNetClient> ConnectAsync(int port, string? tenant, Action<MqttClientOptionsBuilder>? configure = null) =>
        ConnectAsync(port, tenant, Unique.ClientId((tenant ?? "default") + "-"), configure);

    private static Task<MqttNetClient> ConnectAsync(int port, string? tenant, string clientId, Action<MqttClientOptionsBuilder>? configure = null) =>
        MqttNetClient.ConnectAsync(port, MqttProtocolVersion.V500, clientId, o =>
        {
            if (tenant is not null)
                o.WithCredentials($"{tenant}:u", "");
            configure?.Invoke(o);
        });

    /// Two nodes with the tenants "a" and "b", anonymous inside.
    private async Task<ClusterNodes> StartAsync()
    {
        var file = Path.Combine(_directory, "tenants.json");
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(new
        {
            Tenants = new Dictionary<string, object> { ["a"] = new { AllowAnonymous = true }, ["b"] = new { AllowAnonymous = true } },
        }));
        return await ClusterNodes.StartAsync(2, arguments: ["--Tenants:File", file]);
    }

    [Fact]
    public async Task ATenantsOfflineSession_OnANodeShuttingDown_ContinuesInItsTenantOnTheOther() // [MQTT-3.2.2-3]
    {
        await using var cluster = await StartAsync();
        var prefix = Unique.Topic("tenant-evacuated");
        var clientId = Unique.ClientId("evacuee");
        static void Persistent(MqttClientOptionsBuilder o) => o.WithCleanStart(false).WithSessionExpiryInterval(3600);
        await using (var first = await ConnectAsync(cluster[1].Port, "a", clientId, Persistent)) // not the first node: it keeps the member list
        {
            await first.SubscribeAsync($"{prefix}/#", MqttQualityOfServiceLevel.AtLeastOnce);
            await Routes.WaitUntilRoutedAsync(cluster[0].Port, first, prefix, () => ConnectAsync(cluster[0].Port, "a"));
        }

        await using (var publisher = await ConnectAsync(cluster[0].Port, "a"))
        {
            for (var i = 0; i < 10; i++)
                await publisher.PublishAsync($"{prefix}/m", i.ToString(System.Globalization.CultureInfo.InvariantCulture), MqttQualityOfServiceLevel.AtLeastOnce);
        }

        var leaving = cluster[1].Process;
        leaving.Process.Terminate();
        Assert.True(await leaving.Process.WaitForExitAsync(TimeSpan.FromSeconds(45)), $"not stopped within 45 s\n{leaving.Describe()}");

        // The same id in tenant b is another client: nothing of tenant a's session.
        await using (var inB = await ConnectAsync(cluster[0].Port, "b", clientId, Persistent))
            Assert.False(inB.ConnectResult!.IsSessionPresent, "tenant b's client got a session of tenant a's");

        await using var back = await ConnectAsync(cluster[0].Port, "a", clientId, Persistent);
        Assert.True(back.ConnectResult!.IsSessionPresent, $"tenant a's session did not move to the live node\n{leaving.Describe()}");
        await Poll.UntilAsync(() => Routes.Without(back.Messages, prefix).Count >= 10, TimeSpan.FromSeconds(15));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToHashSet(),
            Routes.Without(back.Messages, prefix).Select(m => m.Payload).ToHashSet());
    }

    [Fact]
    public async Task TheWillOfAKilledNodesClient_IsPublishedInItsTenantOnly()
    {
        await using var cluster = await StartAsync();
        var willTopic = Unique.Topic("tenant-will");
        var prefix = Unique.Topic("tenant-will-route");
        await using var willReader = await ConnectAsync(cluster[0].Port, "a");
        await using var hashB = await ConnectAsync(cluster[0].Port, "b");
        await using var hashDefault = await ConnectAsync(cluster[0].Port, tenant: null);
        await willReader.SubscribeAsync(willTopic, MqttQualityOfServiceLevel.AtLeastOnce);
        await hashB.SubscribeAsync("#", MqttQualityOfServiceLevel.AtLeastOnce);
        await hashDefault.SubscribeAsync("#", MqttQualityOfServiceLevel.AtLeastOnce);

        await using var willer = await ConnectAsync(cluster[1].Port, "a",
            o => o.WithWillTopic(willTopic).WithWillPayload("node gone"u8.ToArray()).WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce));
        // Its will went to the first node with its claim; a route of its made after is sent after it on the same link,
        // so once that route works the first node has the will.
        await willer.SubscribeAsync($"{prefix}/#", MqttQualityOfServiceLevel.AtMostOnce);
        await Routes.WaitUntilRoutedAsync(cluster[0].Port, willer, prefix, () => ConnectAsync(cluster[0].Port, "a"));

        cluster[1].Kill(); // not the first: in seed-list mode it keeps the member list
        await Poll.UntilAsync(() => willReader.Messages.Any(m => m.Topic == willTopic), TimeSpan.FromSeconds(30));
        Assert.Equal(["node gone"], willReader.Messages.Where(m => m.Topic == willTopic).Select(m => m.Payload));

        foreach (var other in new[] { hashB, hashDefault })
        {
            await other.PingAsync();
            Assert.DoesNotContain(other.Messages, m => m.Topic == willTopic);
        }
    }
}
