using System.Diagnostics;
using System.Globalization;

namespace Kirisame.Cluster.Tests;

/// A node SIGKILLed (no goodbye), and the seed that keeps the member list lost. Each test runs its own cluster.
public sealed class NodeLossTests
{
    [Fact]
    public async Task KilledNode_UnderQoS1Load_LosesNoAcknowledgedMessageForOtherNodes_AndItsClientsWillsArePublished()
    {
        await using var cluster = await ClusterNodes.StartAsync(3);
        var prefix = Unique.Topic("load");
        var willTopic = Unique.Topic("will");
        await using var survivor = await MqttNetClient.ConnectAsync(cluster[1].Port, MqttProtocolVersion.V500, Unique.ClientId("survivor"));
        await using var doomed = await MqttNetClient.ConnectAsync(cluster[2].Port, MqttProtocolVersion.V500, Unique.ClientId("doomed"));
        await survivor.SubscribeAsync($"{prefix}/#", MqttQualityOfServiceLevel.AtLeastOnce);
        await doomed.SubscribeAsync($"{prefix}/#", MqttQualityOfServiceLevel.AtLeastOnce);
        await using var willWatcher = await MqttNetClient.ConnectAsync(cluster[0].Port, MqttProtocolVersion.V500, Unique.ClientId("watcher"));
        await willWatcher.SubscribeAsync(willTopic, MqttQualityOfServiceLevel.AtLeastOnce);
        await using var willer = await MqttNetClient.ConnectAsync(cluster[2].Port, MqttProtocolVersion.V500, Unique.ClientId("willer"),
            options => options.WithWillTopic(willTopic).WithWillPayload("node gone"u8.ToArray()).WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce));
        await Routes.WaitUntilRoutedAsync(cluster[0].Port, survivor, prefix);
        await Routes.WaitUntilRoutedAsync(cluster[0].Port, doomed, prefix);
        // The will reaches the other nodes with the client's claim: wait until a node other than the will's would publish it.
        await Task.Delay(500);

        await using var publisher = await MqttNetClient.ConnectAsync(cluster[0].Port, MqttProtocolVersion.V500, Unique.ClientId("publisher"));
        var acknowledged = new List<int>();
        var clock = Stopwatch.StartNew();
        var killedAt = TimeSpan.Zero;
        for (var i = 0; clock.Elapsed < TimeSpan.FromSeconds(9); i++)
        {
            if (killedAt == TimeSpan.Zero && clock.Elapsed > TimeSpan.FromSeconds(2))
            {
                cluster[2].Kill();
                killedAt = clock.Elapsed;
            }

            await publisher.PublishAsync($"{prefix}/m", i.ToString(CultureInfo.InvariantCulture), MqttQualityOfServiceLevel.AtLeastOnce);
            acknowledged.Add(i);
        }

        Assert.True(acknowledged.Count > 100, $"Only {acknowledged.Count} messages acknowledged in 9 s");
        await Poll.UntilAsync(() => Routes.Without(survivor.Messages, prefix).Count >= acknowledged.Count, TimeSpan.FromSeconds(15));
        var received = Routes.Without(survivor.Messages, prefix).Select(m => int.Parse(m.Payload, CultureInfo.InvariantCulture)).ToHashSet();
        var lost = acknowledged.Where(i => !received.Contains(i)).ToList();
        Assert.True(lost.Count == 0,
            $"{lost.Count} of {acknowledged.Count} acknowledged messages never reached the subscriber on a surviving node (first: {string.Join(", ", lost.Take(10))})");

        var will = await Poll.WithTimeout(WaitForAsync(willWatcher, willTopic), TimeSpan.FromSeconds(15), "the killed node's client's will");
        Assert.Equal("node gone", will.Payload);
    }

    private static async Task<ReceivedMessage> WaitForAsync(MqttNetClient client, string topic)
    {
        await Poll.UntilAsync(() => client.Messages.Any(m => m.Topic == topic), TimeSpan.FromSeconds(15));
        return client.Messages.First(m => m.Topic == topic);
    }

    [Fact]
    public async Task PrimarySeedLost_TheOtherNodeIsNotReady_AndRefusesNewConnections()
    {
        await using var cluster = await ClusterNodes.StartAsync(2);
        cluster[0].Kill(); // the first seed keeps the member list in seed-list mode (docs/adr/0020)

        var refused = await Poll.UntilAsync(() => !cluster[1].ReadinessAsync().GetAwaiter().GetResult().Ready, TimeSpan.FromSeconds(20));
        Assert.True(refused, "The node stayed ready without the member list");
        var (_, detail) = await cluster[1].ReadinessAsync();
        Assert.Contains("membership", detail, StringComparison.Ordinal);

        await using var v5 = await MqttNetClient.TryConnectAsync(cluster[1].Port, MqttProtocolVersion.V500, Unique.ClientId("cut-off"));
        Assert.Equal(MqttClientConnectResultCode.ServerUnavailable, v5.ConnectResult!.ResultCode);
        await using var v3 = await MqttNetClient.TryConnectAsync(cluster[1].Port, MqttProtocolVersion.V311, Unique.ClientId("cut-off"));
        Assert.Equal(MqttClientConnectResultCode.ServerUnavailable, v3.ConnectResult!.ResultCode); // return code 3
        Assert.NotNull(await cluster[1].Process.Process.WaitForLineAsync(l => l.Contains("refusing new connections", StringComparison.Ordinal), TimeSpan.FromSeconds(5)));
    }
}
