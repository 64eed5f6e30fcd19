using Kirisame.Testing;
using static Kirisame.Interop.Tests.MqttSn.SnTestClient;

namespace Kirisame.Interop.Tests.MqttSn;

/// MQTT-SN clients publishing through the gateway of the real server, received by mosquitto_sub.
public sealed class MqttSnPublishTests(SnGatewayFixture fixture) : IClassFixture<SnGatewayFixture>
{
    private SnGateway Gateway => fixture.Gateway;

    private async Task<ExternalProcess> SubscribeAsync(string filter)
    {
        var subscriber = MosquittoClients.StartSubscriber(Gateway.Port, filter, qos: 2);
        await MosquittoClients.WaitUntilSubscribedAsync(subscriber);
        return subscriber;
    }

    private static async Task ExpectLineAsync(ExternalProcess subscriber, string line)
    {
        var seen = await subscriber.WaitForLineAsync(l => l == line, MosquittoClients.DefaultTimeout);
        Assert.True(seen is not null, $"mosquitto_sub did not print '{line}'.\n{subscriber.Describe()}");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Publish_WithARegisteredTopicId_ReachesMosquittoSub(int qos)
    {
        await using var subscriber = await SubscribeAsync($"sn/pub/{qos}/#");
        using var client = Gateway.Client();
        Assert.Equal(0, await client.ConnectAsync($"sn-pub-{qos}"));
        var topicId = await client.RegisterAsync($"sn/pub/{qos}/reading");
        Assert.Equal(0, await client.PublishAsync(topicId, $"hello at qos {qos}", qos));
        await ExpectLineAsync(subscriber, $"sn/pub/{qos}/reading hello at qos {qos}");
    }

    [Fact]
    public async Task Publish_OnPredefinedAndShortTopics_ReachesMosquittoSub()
    {
        await using var subscriber = await SubscribeAsync("#");
        using var client = Gateway.Client();
        Assert.Equal(0, await client.ConnectAsync("sn-pub-predefined"));
        Assert.Equal(0, await client.PublishAsync(SnGateway.PredefinedId, "predefined", 1, Predefined));
        Assert.Equal(0, await client.PublishAsync(('s' << 8) | 't', "short", 1, Short));
        await ExpectLineAsync(subscriber, $"{SnGateway.PredefinedTopic} predefined");
        await ExpectLineAsync(subscriber, "st short");
    }

    [Fact]
    public async Task QoSMinusOne_WithoutConnecting_ReachesMosquittoSub_OnPredefinedAndShortTopics()
    {
        await using var subscriber = await SubscribeAsync("#");
        using var sensor = Gateway.Client();
        await sensor.PublishAsync(SnGateway.PredefinedId, "no connection", -1, Predefined);
        await sensor.PublishAsync(('q' << 8) | 'm', "short, no connection", -1, Short);
        await ExpectLineAsync(subscriber, $"{SnGateway.PredefinedTopic} no connection");
        await ExpectLineAsync(subscriber, "qm short, no connection");
    }

    [Fact]
    public async Task Publish_OnAnUnknownTopicId_IsAnsweredInvalidTopicId()
    {
        using var client = Gateway.Client();
        Assert.Equal(0, await client.ConnectAsync("sn-pub-unknown"));
        Assert.Equal(2, await client.PublishAsync(999, "nowhere", 1));
        Assert.Equal(2, await client.PublishAsync(999, "nowhere", 1, Predefined));
    }

    [Fact]
    public async Task ThreeByteLengthForm_WorksBothWays()
    {
        var payload = new string('x', 300);
        await using var subscriber = await SubscribeAsync("sn/long");
        using var client = Gateway.Client();
        Assert.Equal(0, await client.ConnectAsync("sn-long"));
        var topicId = await client.RegisterAsync("sn/long");
        // A short message sent in the long form is valid too.
        Assert.Equal(0, await client.PublishAsync(topicId, "short in long form", 1, longForm: true));
        Assert.Equal(0, await client.PublishAsync(topicId, payload, 1));
        await ExpectLineAsync(subscriber, "sn/long short in long form");
        await ExpectLineAsync(subscriber, $"sn/long {payload}");

        var (_, backId, code) = await client.SubscribeAsync("sn/long/back", 0);
        Assert.Equal(0, code);
        client.Topics[backId] = "sn/long/back";
        var published = await MosquittoClients.PublishAsync(Gateway.Port, "sn/long/back", payload);
        Assert.Equal(0, published.ExitCode);
        var received = await client.ReceivePublishAsync();
        Assert.Equal(("sn/long/back", payload), (received.Topic, received.Payload));
    }
}
