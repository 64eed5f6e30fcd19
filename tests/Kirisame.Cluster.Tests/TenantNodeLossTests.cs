using System.Text.Json;

namespace Kirisame.Cluster.Tests;

/// A node SIGKILLed with tenants (docs/adr/0021, "In a cluster"): the wills of its clients are published by a surviving
/// node in each client's own tenant, and reach nobody of another tenant or of the default one. Its own cluster.
public sealed class TenantNodeLossTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("kirisame-cluster-tenants-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static Task<MqttNetClient> ConnectAsync(int port, string? tenant, Action<MqttClientOptionsBuilder>? configure = null) =>
        MqttNetClient.ConnectAsync(port, MqttProtocolVersion.V500, Unique.ClientId((tenant ?? "default") + "-"), o =>
        {
            if (tenant is not null)
                o.WithCredentials($"{tenant}:u", "");
            configure?.Invoke(o);
        });

    [Fact]
    public async Task TheWillOfAKilledNodesClient_IsPublishedInItsTenantOnly()
    {
        var file = Path.Combine(_directory, "tenants.json");
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(new
        {
            Tenants = new Dictionary<string, object> { ["a"] = new { AllowAnonymous = true }, ["b"] = new { AllowAnonymous = true } },
        }));
        await using var cluster = await ClusterNodes.StartAsync(2, arguments: ["--Tenants:File", file]);
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
