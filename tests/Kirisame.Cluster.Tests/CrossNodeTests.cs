namespace Kirisame.Cluster.Tests;

/// Three nodes joined through a seed list; clients on different nodes (README, "Cluster").
public sealed class CrossNodeTests(CrossNodeTests.Fixture cluster) : IClassFixture<CrossNodeTests.Fixture>
{
    public sealed class Fixture : IAsyncLifetime
    {
        internal ClusterNodes Nodes { get; private set; } = null!;

        public async Task InitializeAsync() => Nodes = await ClusterNodes.StartAsync(3);

        public async Task DisposeAsync() => await Nodes.DisposeAsync();
    }

    private ClusterNodes Nodes => cluster.Nodes;

    [Theory]
    [InlineData(MqttQualityOfServiceLevel.AtMostOnce)]
    [InlineData(MqttQualityOfServiceLevel.AtLeastOnce)]
    [InlineData(MqttQualityOfServiceLevel.ExactlyOnce)]
    public async Task Publish_OnOneNode_ReachesSubscribersOnTheOtherNodes_OnceEachInOrder(MqttQualityOfServiceLevel qos)
    {
        var prefix = Unique.Topic("cross");
        await using var second = await MqttNetClient.ConnectAsync(Nodes[1].Port, MqttProtocolVersion.V500, Unique.ClientId("sub2"));
        await using var third = await MqttNetClient.ConnectAsync(Nodes[2].Port, MqttProtocolVersion.V311, Unique.ClientId("sub3"));
        await second.SubscribeAsync($"{prefix}/#", MqttQualityOfServiceLevel.ExactlyOnce);
        await third.SubscribeAsync($"{prefix}/#", MqttQualityOfServiceLevel.ExactlyOnce);
        await Routes.WaitUntilRoutedAsync(Nodes[0].Port, second, prefix);
        await Routes.WaitUntilRoutedAsync(Nodes[0].Port, third, prefix);

        await using var publisher = await MqttNetClient.ConnectAsync(Nodes[0].Port, MqttProtocolVersion.V500, Unique.ClientId("pub"));
        for (var i = 0; i < 20; i++)
        {
            var result = await publisher.PublishAsync($"{prefix}/m", i.ToString(System.Globalization.CultureInfo.InvariantCulture), qos);
            // The subscribers are on other nodes: their node counts as a match, not "No matching subscribers".
            if (qos != MqttQualityOfServiceLevel.AtMostOnce)
                Assert.Equal(MqttClientPublishReasonCode.Success, result.ReasonCode);
        }

        foreach (var subscriber in new[] { second, third })
        {
            await Poll.UntilAsync(() => Routes.Without(subscriber.Messages, prefix).Count >= 20, TimeSpan.FromSeconds(15));
            await subscriber.PingAsync(); // anything more (a duplicate) would have arrived before the answer
            var received = Routes.Without(subscriber.Messages, prefix);
            Assert.Equal(Enumerable.Range(0, 20).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), received.Select(m => m.Payload));
            Assert.All(received, m => Assert.Equal(qos, m.QoS));
        }
    }

    [Fact]
    public async Task RetainedMessage_SetOnOneNode_IsSentBySubscriptionsOnEveryNode_AndItsRemovalToo()
    {
        var topic = Unique.Topic("retained");
        var marker = Unique.Topic("marker");
        await using (var publisher = await MqttNetClient.ConnectAsync(Nodes[0].Port, MqttProtocolVersion.V500, Unique.ClientId("pub")))
            await publisher.PublishAsync(topic, "kept", MqttQualityOfServiceLevel.AtLeastOnce, retain: true);

        foreach (var node in Nodes.Nodes.Skip(1))
        {
            var found = await RetainedOnAsync(node.Port, topic, expectAny: true);
            var message = Assert.Single(found);
            Assert.Equal("kept", message.Payload);
            Assert.True(message.Retain);
        }

        // The removal, then a marker after it on the same node: a node that has the marker has applied the removal.
        await using (var publisher = await MqttNetClient.ConnectAsync(Nodes[0].Port, MqttProtocolVersion.V500, Unique.ClientId("pub")))
        {
            await publisher.PublishAsync(topic, "", MqttQualityOfServiceLevel.AtLeastOnce, retain: true);
            await publisher.PublishAsync(marker, "after", MqttQualityOfServiceLevel.AtLeastOnce, retain: true);
        }

        foreach (var node in Nodes.Nodes.Skip(1))
        {
            await RetainedOnAsync(node.Port, marker, expectAny: true);
            Assert.Empty(await RetainedOnAsync(node.Port, topic, expectAny: false));
        }
    }

    /// What a new subscription to <paramref name="topic"/> on the node gets; with <paramref name="expectAny"/>, subscribes
    /// again until something arrives (retained messages reach the other nodes a moment after the PUBACK).
    private static async Task<IReadOnlyList<ReceivedMessage>> RetainedOnAsync(int port, string topic, bool expectAny)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            await using var subscriber = await MqttNetClient.ConnectAsync(port, MqttProtocolVersion.V500, Unique.ClientId("retained"));
            await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);
            await Poll.UntilAsync(() => subscriber.Messages.Count > 0, TimeSpan.FromMilliseconds(expectAny ? 300 : 1000));
            await subscriber.PingAsync();
            if (!expectAny || subscriber.Messages.Count > 0 || DateTime.UtcNow > deadline)
                return subscriber.Messages;
        }
    }

    [Fact]
    public async Task ConnectingOnAnotherNode_TakesTheClientIdOver_TheOldConnectionGetsDisconnect0x8E()
    {
        var clientId = Unique.ClientId("takeover");
        await using var first = await MqttNetClient.ConnectAsync(Nodes[0].Port, MqttProtocolVersion.V500, clientId);
        await using var second = await MqttNetClient.ConnectAsync(Nodes[1].Port, MqttProtocolVersion.V500, clientId);

        var disconnected = await Poll.WithTimeout(first.Disconnected, TimeSpan.FromSeconds(15), "the first connection's DISCONNECT");
        Assert.Equal(MqttClientDisconnectReason.SessionTakenOver, disconnected.Reason);
        Assert.True(second.Client.IsConnected);
        await second.PingAsync();

        // And back: the id is held on the second node now, so a third connection there takes it over as well.
        await using var third = await MqttNetClient.ConnectAsync(Nodes[2].Port, MqttProtocolVersion.V500, clientId);
        var secondGone = await Poll.WithTimeout(second.Disconnected, TimeSpan.FromSeconds(15), "the second connection's DISCONNECT");
        Assert.Equal(MqttClientDisconnectReason.SessionTakenOver, secondGone.Reason);
    }

    [Fact]
    public async Task ConcurrentConnects_WithOneClientId_OnEveryNode_LeaveExactlyOneConnected()
    {
        for (var round = 0; round < 3; round++)
        {
            var clientId = Unique.ClientId("race");
            var attempts = Nodes.Nodes.Select(node => MqttNetClient.TryConnectAsync(node.Port, MqttProtocolVersion.V500, clientId)).ToList();
            var clients = new List<MqttNetClient>();
            foreach (var attempt in attempts)
            {
                try
                {
                    clients.Add(await attempt);
                }
                catch (MQTTnet.Exceptions.MqttCommunicationException)
                {
                    // Overtaken while connecting: closed without CONNACK (docs/adr/0008).
                }
            }

            try
            {
                // Displaced connections are told so at once; wait until no more than one is left, then check it stays one.
                await Poll.UntilAsync(() => clients.Count(c => c.Client.IsConnected) <= 1, TimeSpan.FromSeconds(15));
                var connected = clients.Where(c => c.Client.IsConnected).ToList();
                var winner = Assert.Single(connected);
                await winner.PingAsync();
                Assert.Single(clients, c => c.Client.IsConnected);
            }
            finally
            {
                foreach (var client in clients)
                    await client.DisposeAsync();
            }
        }
    }
}
