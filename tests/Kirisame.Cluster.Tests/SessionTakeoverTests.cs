using System.Globalization;

namespace Kirisame.Cluster.Tests;

/// A client id claimed on another node takes its session along (docs/adr/0020): subscriptions, queued and in-flight
/// messages move from the node that had them to the node the client connected to, unless it asks for a clean start.
/// Three nodes joined through a seed list, as for <see cref="CrossNodeTests"/>.
public sealed class SessionTakeoverTests(CrossNodeTests.Fixture cluster) : IClassFixture<CrossNodeTests.Fixture>
{
    private ClusterNodes Nodes => cluster.Nodes;

    private static Action<MqttClientOptionsBuilder> Persistent(bool cleanStart) =>
        options => options.WithCleanStart(cleanStart).WithSessionExpiryInterval(3600);

    [Fact]
    public async Task PersistentSession_LeftOnOneNode_ContinuesOnAnother_WithItsQueueAndSubscription() // [MQTT-3.2.2-3]
    {
        var prefix = Unique.Topic("moved");
        var clientId = Unique.ClientId("mover");
        await LeaveSessionOnFirstNodeAsync(clientId, prefix);

        await using var publisher = await MqttNetClient.ConnectAsync(Nodes[2].Port, MqttProtocolVersion.V500, Unique.ClientId("pub"));
        await PublishAsync(publisher, $"{prefix}/m", 0, 20); // queued on the first node for the offline session

        await using var second = await MqttNetClient.ConnectAsync(Nodes[1].Port, MqttProtocolVersion.V500, clientId, Persistent(cleanStart: false));
        Assert.True(second.ConnectResult!.IsSessionPresent, "CONNACK on the second node did not have Session Present"); // [MQTT-3.2.2-3]
        await Poll.UntilAsync(() => Payloads(second, prefix).Count >= 20, TimeSpan.FromSeconds(15));
        Assert.Equal(Numbers(0, 20), Payloads(second, prefix));

        // No SUBSCRIBE on the second node: the subscription came with the session, and the routes follow it there.
        await Routes.WaitUntilRoutedAsync(Nodes[2].Port, second, prefix);
        await PublishAsync(publisher, $"{prefix}/m", 20, 10);
        await Poll.UntilAsync(() => Payloads(second, prefix).Count >= 30, TimeSpan.FromSeconds(15));
        await second.PingAsync();
        Assert.Equal(Numbers(0, 30), Payloads(second, prefix));
    }

    [Fact]
    public async Task ConnectedClient_TakenOverOnAnotherNode_GetsDisconnect0x8E_AndItsUnacknowledgedMessagesAreSentAgainWithDup() // [MQTT-3.1.4-3], [MQTT-4.4.0-1]
    {
        var prefix = Unique.Topic("inflight");
        var clientId = Unique.ClientId("holder");
        await using var first = await MqttNetClient.ConnectAsync(Nodes[0].Port, MqttProtocolVersion.V500, clientId, Persistent(cleanStart: true));
        await first.SubscribeAsync($"{prefix}/#", MqttQualityOfServiceLevel.AtLeastOnce);
        await Routes.WaitUntilRoutedAsync(Nodes[2].Port, first, prefix);
        first.HoldAcknowledgements = true; // in flight on the first node when the client moves

        await using var publisher = await MqttNetClient.ConnectAsync(Nodes[2].Port, MqttProtocolVersion.V500, Unique.ClientId("pub"));
        await PublishAsync(publisher, $"{prefix}/m", 0, 5);
        await Poll.UntilAsync(() => Payloads(first, prefix).Count >= 5, TimeSpan.FromSeconds(15));

        await using var second = await MqttNetClient.ConnectAsync(Nodes[1].Port, MqttProtocolVersion.V500, clientId, Persistent(cleanStart: false));
        var disconnected = await Poll.WithTimeout(first.Disconnected, TimeSpan.FromSeconds(15), "the first connection's DISCONNECT");
        Assert.Equal(MqttClientDisconnectReason.SessionTakenOver, disconnected.Reason); // [MQTT-3.1.4-3]
        Assert.True(second.ConnectResult!.IsSessionPresent, "CONNACK on the second node did not have Session Present");
        await Poll.UntilAsync(() => Payloads(second, prefix).Count >= 5, TimeSpan.FromSeconds(15));
        Assert.Equal(Numbers(0, 5), Payloads(second, prefix));
        // Sent before and not acknowledged: sent again with DUP [MQTT-4.4.0-1].
        Assert.All(second.ApplicationMessages.Where(m => m.Topic == $"{prefix}/m"), m => Assert.True(m.Dup));

        await Routes.WaitUntilRoutedAsync(Nodes[2].Port, second, prefix);
        await PublishAsync(publisher, $"{prefix}/m", 5, 5);
        await Poll.UntilAsync(() => Payloads(second, prefix).Count >= 10, TimeSpan.FromSeconds(15));
        Assert.Equal(Numbers(0, 10), Payloads(second, prefix));
    }

    [Fact]
    public async Task CleanStart_OnAnotherNode_DiscardsTheSessionLeftOnTheFirst() // [MQTT-3.1.2-4], [MQTT-3.2.2-2]
    {
        var prefix = Unique.Topic("discarded");
        var clientId = Unique.ClientId("fresh");
        await LeaveSessionOnFirstNodeAsync(clientId, prefix);

        await using (var publisher = await MqttNetClient.ConnectAsync(Nodes[2].Port, MqttProtocolVersion.V500, Unique.ClientId("pub")))
            await PublishAsync(publisher, $"{prefix}/m", 0, 5);

        // Clean start without expiry: this session ends with its connection, and keeps nothing for the third.
        await using (var second = await MqttNetClient.ConnectAsync(Nodes[1].Port, MqttProtocolVersion.V500, clientId, options => options.WithCleanStart(true)))
        {
            Assert.False(second.ConnectResult!.IsSessionPresent);
            await second.PingAsync(); // anything queued for it would have come before the answer
            Assert.Empty(Payloads(second, prefix));
        }

        // Nothing of it was kept on the first node either.
        await using var third = await MqttNetClient.ConnectAsync(Nodes[0].Port, MqttProtocolVersion.V500, clientId, Persistent(cleanStart: false));
        Assert.False(third.ConnectResult!.IsSessionPresent);
        await third.PingAsync();
        Assert.Empty(Payloads(third, prefix));
    }

    /// A persistent session on the first node subscribed to <paramref name="prefix"/>/# (routed from the third node),
    /// its client gone with DISCONNECT.
    private async Task LeaveSessionOnFirstNodeAsync(string clientId, string prefix)
    {
        await using var first = await MqttNetClient.ConnectAsync(Nodes[0].Port, MqttProtocolVersion.V500, clientId, Persistent(cleanStart: true));
        await first.SubscribeAsync($"{prefix}/#", MqttQualityOfServiceLevel.AtLeastOnce);
        await Routes.WaitUntilRoutedAsync(Nodes[2].Port, first, prefix);
    }

    private static async Task PublishAsync(MqttNetClient publisher, string topic, int from, int count)
    {
        for (var i = from; i < from + count; i++)
            await publisher.PublishAsync(topic, i.ToString(CultureInfo.InvariantCulture), MqttQualityOfServiceLevel.AtLeastOnce);
    }

    private static List<string> Payloads(MqttNetClient client, string prefix) => [.. Routes.Without(client.Messages, prefix).Select(m => m.Payload)];

    private static List<string> Numbers(int from, int count) => [.. Enumerable.Range(from, count).Select(i => i.ToString(CultureInfo.InvariantCulture))];
}
