using System.Globalization;

namespace Kirisame.Cluster.Tests;

/// The membership kept in Redis (Cluster:Membership redis:…): a real redis-server started here on a free port.
public sealed class RedisMembershipTests
{
    [RedisFact]
    public async Task RedisMembership_JoinsNodes_CarriesMessagesAndRetained_AndRefusesConnectsWithoutTheStore()
    {
        var redisPort = FreePort.GetLoopbackPort();
        await using var redis = await RedisFactAttribute.StartAsync(redisPort);

        await using var cluster = await ClusterNodes.StartAsync(1, $"redis:127.0.0.1:{redisPort}");
        var retained = Unique.Topic("retained");
        await using (var publisher = await MqttNetClient.ConnectAsync(cluster[0].Port, MqttProtocolVersion.V500, Unique.ClientId("pub")))
            await publisher.PublishAsync(retained, "before the second node", MqttQualityOfServiceLevel.AtLeastOnce, retain: true);

        // A node that joins later starts with the retained messages of the cluster.
        await cluster.AddAsync(1);
        await using var subscriber = await MqttNetClient.ConnectAsync(cluster[1].Port, MqttProtocolVersion.V500, Unique.ClientId("sub"));
        await subscriber.SubscribeAsync(retained, MqttQualityOfServiceLevel.AtLeastOnce);
        var first = Assert.Single(await subscriber.WaitForMessagesAsync(1));
        Assert.Equal("before the second node", first.Payload);

        var prefix = Unique.Topic("redis");
        await subscriber.SubscribeAsync($"{prefix}/#", MqttQualityOfServiceLevel.AtLeastOnce);
        await Routes.WaitUntilRoutedAsync(cluster[0].Port, subscriber, prefix);
        await using (var publisher = await MqttNetClient.ConnectAsync(cluster[0].Port, MqttProtocolVersion.V500, Unique.ClientId("pub")))
            await publisher.PublishAsync($"{prefix}/m", "across", MqttQualityOfServiceLevel.AtLeastOnce);
        Assert.True(await Poll.UntilAsync(() => subscriber.Messages.Any(m => m.Payload == "across"), TimeSpan.FromSeconds(10)));

        // Without the store no node can tell who holds a client id: both stop accepting.
        redis.Kill();
        await redis.WaitForExitAsync(TimeSpan.FromSeconds(10));
        foreach (var node in cluster.Nodes)
        {
            Assert.True(await Poll.UntilAsync(() => !node.ReadinessAsync().GetAwaiter().GetResult().Ready, TimeSpan.FromSeconds(20)),
                $"The node on port {node.Port} stayed ready without its membership store");
            await using var refused = await MqttNetClient.TryConnectAsync(node.Port, MqttProtocolVersion.V500, Unique.ClientId("cut-off"));
            Assert.Equal(MqttClientConnectResultCode.ServerUnavailable, refused.ConnectResult!.ResultCode);
        }
    }
}

/// A test that needs Debian's redis-server; skipped, saying so, where it is not installed (scripts/test.sh installs it).
internal sealed class RedisFactAttribute : FactAttribute
{
    public static readonly string Server = "/usr/bin/redis-server";

    /// A redis-server without persistence on <paramref name="port"/>, accepting connections.
    public static async Task<ExternalProcess> StartAsync(int port)
    {
        var redis = ExternalProcess.Start(Server, ["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        Assert.True(await FreePort.WaitUntilAcceptingAsync(port, TimeSpan.FromSeconds(10), () => redis.HasExited), redis.Describe());
        return redis;
    }

    public RedisFactAttribute()
    {
        if (!File.Exists(Server))
            Skip = $"{Server} is not installed (apt-get install redis-server; scripts/test.sh installs it)";
    }
}
