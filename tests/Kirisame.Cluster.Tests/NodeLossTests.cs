using System.Globalization;

namespace Kirisame.Cluster.Tests;

/// A node SIGKILLed (no goodbye), and the seed that keeps the member list lost. Each test runs its own cluster.
public sealed class NodeLossTests
{
    /// The node the publishers are connected to dies under QoS 1 load, while another node with subscribers is frozen
    /// (SIGSTOP, shorter than failure detection): every message the publishers had a PUBACK for must reach the
    /// subscribers on the surviving nodes. A node that acknowledged before every node with subscribers accepted would
    /// go on acknowledging during the freeze, and lose those messages with it.
    [Fact]
    public async Task KilledNode_UnderQoS1Load_LosesNoAcknowledgedMessageForOtherNodes_AndItsClientsWillsArePublished()
    {
        await using var cluster = await ClusterNodes.StartAsync(3);
        var prefix = Unique.Topic("load");
        var willTopic = Unique.Topic("will");
        await using var frozen = await MqttNetClient.ConnectAsync(cluster[1].Port, MqttProtocolVersion.V500, Unique.ClientId("frozen"));
        await using var other = await MqttNetClient.ConnectAsync(cluster[0].Port, MqttProtocolVersion.V311, Unique.ClientId("other"));
        await frozen.SubscribeAsync($"{prefix}/#", MqttQualityOfServiceLevel.AtLeastOnce);
        await other.SubscribeAsync($"{prefix}/#", MqttQualityOfServiceLevel.AtLeastOnce);
        await other.SubscribeAsync(willTopic, MqttQualityOfServiceLevel.AtLeastOnce);
        await using var willer = await MqttNetClient.ConnectAsync(cluster[2].Port, MqttProtocolVersion.V500, Unique.ClientId("willer"),
            options => options.WithWillTopic(willTopic).WithWillPayload("node gone"u8.ToArray()).WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce));
        await Routes.WaitUntilRoutedAsync(cluster[2].Port, frozen, prefix);
        await Routes.WaitUntilRoutedAsync(cluster[2].Port, other, prefix);
        // The will reaches the other nodes with the client's claim, a batch later; a route of the client's made after it
        // follows it on the same links, so once that route works from both other nodes they have the will.
        var marker = Unique.Topic("will-marker");
        await willer.SubscribeAsync($"{marker}/#", MqttQualityOfServiceLevel.AtMostOnce);
        await Routes.WaitUntilRoutedAsync(cluster[0].Port, willer, marker);
        await Routes.WaitUntilRoutedAsync(cluster[1].Port, willer, marker);

        var publishers = new List<MqttNetClient>();
        var acknowledged = new System.Collections.Concurrent.ConcurrentBag<string>();
        try
        {
            for (var p = 0; p < 4; p++)
                publishers.Add(await MqttNetClient.ConnectAsync(cluster[2].Port, MqttProtocolVersion.V500, Unique.ClientId($"publisher{p}")));
            var load = publishers.Select((publisher, p) => PublishUntilFailureAsync(publisher, $"{prefix}/p{p}", $"{p}-", acknowledged)).ToList();
            await Task.Delay(TimeSpan.FromSeconds(1.5));
            Assert.True(acknowledged.Count > 50, $"Only {acknowledged.Count} messages acknowledged in 1.5 s");
            cluster[1].Process.Process.Signal("STOP");
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(0.8));
                cluster[2].Kill(); // not the first: in seed-list mode it keeps the member list
                await Task.WhenAll(load).WaitAsync(TimeSpan.FromSeconds(30)); // each ends with its connection
            }
            finally
            {
                cluster[1].Process.Process.Signal("CONT");
            }
        }
        finally
        {
            foreach (var publisher in publishers)
                await publisher.DisposeAsync();
        }

        var total = acknowledged.Count;
        foreach (var survivor in new[] { frozen, other })
        {
            await Poll.UntilAsync(() => acknowledged.All(survivor.Messages.Select(m => m.Payload).ToHashSet().Contains), TimeSpan.FromSeconds(15));
            var received = survivor.Messages.Select(m => m.Payload).ToHashSet();
            var lost = acknowledged.Where(id => !received.Contains(id)).ToList();
            Assert.True(lost.Count == 0,
                $"{lost.Count} of {total} acknowledged messages never reached a subscriber on a surviving node (e.g. {string.Join(", ", lost.Take(10))})");
        }

        Assert.True(await Poll.UntilAsync(() => other.Messages.Any(m => m.Topic == willTopic), TimeSpan.FromSeconds(15)),
            $"The killed node's client's will was not published within 15 s.\n{cluster[0].Process.Describe()}\n{cluster[1].Process.Describe()}");
        Assert.Equal("node gone", other.Messages.First(m => m.Topic == willTopic).Payload);
    }

    /// Keeps 32 QoS 1 PUBLISHes in flight until the connection fails; records each one acknowledged.
    private static async Task PublishUntilFailureAsync(MqttNetClient publisher, string topic, string prefix,
        System.Collections.Concurrent.ConcurrentBag<string> acknowledged)
    {
        var inFlight = new List<Task>();
        for (var i = 0; ; i++)
        {
            var id = prefix + i.ToString(CultureInfo.InvariantCulture);
            var message = new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(id).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
            inFlight.Add(PublishOneAsync(publisher, message, id, acknowledged));
            if (inFlight.Count < 32)
                continue;
            var done = await Task.WhenAny(inFlight);
            inFlight.Remove(done);
            if (!publisher.Client.IsConnected)
                break;
        }

        await Task.WhenAll(inFlight);
    }

    private static async Task PublishOneAsync(MqttNetClient publisher, MqttApplicationMessage message, string id, System.Collections.Concurrent.ConcurrentBag<string> acknowledged)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var result = await publisher.Client.PublishAsync(message, timeout.Token);
            if (result.IsSuccess)
                acknowledged.Add(id);
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or InvalidOperationException)
        {
            // The node died before acknowledging it: the publisher may not count on it.
        }
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
