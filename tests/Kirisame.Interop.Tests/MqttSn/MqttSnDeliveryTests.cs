using Kirisame.Testing;
using static Kirisame.Interop.Tests.MqttSn.SnTestClient;

namespace Kirisame.Interop.Tests.MqttSn;

/// mosquitto_pub publishing to MQTT-SN subscribers: by name with wildcards (REGISTER from the gateway first), by
/// predefined id and short name; sleeping clients; retransmission.
public sealed class MqttSnDeliveryTests(SnGatewayFixture fixture) : IClassFixture<SnGatewayFixture>
{
    private SnGateway Gateway => fixture.Gateway;

    private async Task PublishAsync(string topic, string message, int qos = 1)
    {
        var result = await MosquittoClients.PublishAsync(Gateway.Port, topic, message, qos);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task WildcardSubscriber_GetsARegisterThenThePublish(int qos)
    {
        using var client = Gateway.Client();
        Assert.Equal(0, await client.ConnectAsync($"sn-wild-{qos}"));
        var (flags, topicId, code) = await client.SubscribeAsync($"sn/wild/{qos}/+", qos);
        Assert.Equal((0, (ushort)0), (code, topicId)); // a wildcard has no topic id (§5.4.16)
        Assert.Equal(qos, (flags >> 5) & 3);

        await PublishAsync($"sn/wild/{qos}/kitchen", "21.5", qos);
        var (type, body) = await client.ReceiveAsync();
        Assert.Equal(Register, type);
        Assert.Equal($"sn/wild/{qos}/kitchen", System.Text.Encoding.UTF8.GetString(body.AsSpan(4)));
        client.Send(RegAck, body[0..2], body[2..4], [0]);
        client.Topics[(ushort)((body[0] << 8) | body[1])] = $"sn/wild/{qos}/kitchen";
        var message = await client.ReceivePublishAsync();
        Assert.Equal(($"sn/wild/{qos}/kitchen", "21.5", qos), (message.Topic, message.Payload, message.QoS));

        // The topic is registered now: the next message on it comes without a REGISTER.
        await PublishAsync($"sn/wild/{qos}/kitchen", "22.0", qos);
        var (next, _) = await client.ReceiveAsync();
        Assert.Equal(Publish, next);
    }

    [Fact]
    public async Task SubscribeByName_ReturnsTheTopicId_AndDeliveriesUseIt()
    {
        using var client = Gateway.Client();
        Assert.Equal(0, await client.ConnectAsync("sn-byname"));
        var (_, topicId, code) = await client.SubscribeAsync("sn/byname", 1);
        Assert.Equal(0, code);
        Assert.NotEqual(0, topicId);
        await PublishAsync("sn/byname", "direct", qos: 0);
        // No REGISTER: the PUBLISH carries the id the SUBACK gave.
        var body = await client.ExpectAsync(Publish);
        Assert.Equal(topicId, (ushort)((body[1] << 8) | body[2]));
        Assert.Equal("direct", System.Text.Encoding.UTF8.GetString(body.AsSpan(5)));
    }

    [Fact]
    public async Task PredefinedAndShortSubscriptions_AreDeliveredWithTheirTopicIdTypes()
    {
        using var client = Gateway.Client();
        Assert.Equal(0, await client.ConnectAsync("sn-predef-sub"));
        var predefined = await client.SubscribeAsync(null, 1, Predefined, SnGateway.PredefinedId);
        Assert.Equal((SnGateway.PredefinedId, (byte)0), (predefined.TopicId, predefined.ReturnCode));
        Assert.Equal(0, (await client.SubscribeAsync("zz", 1, Short)).ReturnCode);
        Assert.Equal(2, (await client.SubscribeAsync(null, 1, Predefined, 4242)).ReturnCode); // unknown predefined id

        await PublishAsync(SnGateway.PredefinedTopic, "p");
        var first = await client.ReceivePublishAsync();
        Assert.Equal(($"predefined:{SnGateway.PredefinedId}", "p", Predefined), (first.Topic, first.Payload, first.TopicIdType));
        await PublishAsync("zz", "s");
        var second = await client.ReceivePublishAsync();
        // Tretry is 300 ms in these tests: on a busy machine the first can come again (QoS 1, DUP) before its PUBACK
        // reached the gateway — seen once in CI. A retransmission is allowed; it is not the second message.
        while (second.Payload == "p" && second.Dup)
            second = await client.ReceivePublishAsync();
        Assert.Equal(("zz", "s", Short), (second.Topic, second.Payload, second.TopicIdType));
    }

    [Fact]
    public async Task SleepingClient_GetsWhatWasPublishedWhileAsleep_WhenItWakes()
    {
        using var client = Gateway.Client();
        Assert.Equal(0, await client.ConnectAsync("sn-sleeper", keepAlive: 60));
        Assert.Equal(0, (await client.SubscribeAsync("sn/sleep/#", 1)).ReturnCode);
        client.Send(Disconnect, U16(30));
        await client.ExpectAsync(Disconnect);

        await PublishAsync("sn/sleep/a", "one");
        await PublishAsync("sn/sleep/b", "two", qos: 0);
        Assert.True(await client.NothingAsync(TimeSpan.FromMilliseconds(500)), "a sleeping client was sent something");

        client.Send(PingReq, Text("sn-sleeper"));
        var first = await client.ReceivePublishAsync();
        var second = await client.ReceivePublishAsync();
        Assert.Equal([("sn/sleep/a", "one"), ("sn/sleep/b", "two")], new[] { (first.Topic, first.Payload), (second.Topic, second.Payload) });
        await client.ExpectAsync(PingResp); // after the buffered messages: back to sleep (§6.14)

        // Asleep again: the next message waits for the next wake.
        await PublishAsync("sn/sleep/c", "three");
        Assert.True(await client.NothingAsync(TimeSpan.FromMilliseconds(500)), "a client back asleep was sent something");
        client.Send(PingReq, Text("sn-sleeper"));
        Assert.Equal("three", (await client.ReceivePublishAsync()).Payload);
        await client.ExpectAsync(PingResp);
    }

    [Fact]
    public async Task UnacknowledgedPublish_IsRetransmittedWithDup_ThenTheClientIsLost()
    {
        await using var wills = MosquittoClients.StartSubscriber(Gateway.Port, "sn/retry/will");
        await MosquittoClients.WaitUntilSubscribedAsync(wills);
        using var client = Gateway.Client();
        Assert.Equal(0, await client.ConnectAsync("sn-retry", will: ("sn/retry/will", "retry gave up", 0, false)));
        var (_, topicId, _) = await client.SubscribeAsync("sn/retry", 1);
        client.Topics[topicId] = "sn/retry";

        await PublishAsync("sn/retry", "ack me");
        var original = await client.ReceivePublishAsync(acknowledge: false);
        Assert.False(original.Dup);
        // Nretry = 2 in SnGateway: two copies with DUP, Tretry (300 ms) apart, then the gateway gives up.
        var copies = new[] { await client.ReceivePublishAsync(acknowledge: false), await client.ReceivePublishAsync(acknowledge: false) };
        Assert.All(copies, c => Assert.True(c.Dup && c.Payload == "ack me"));
        var will = await wills.WaitForLineAsync(l => l == "sn/retry/will retry gave up", MosquittoClients.DefaultTimeout);
        Assert.True(will is not null, wills.Describe());
    }

    [Fact]
    public async Task APersistentClientLostMidDelivery_GetsTheMessageAgain_WhenItReconnects()
    {
        await using var wills = MosquittoClients.StartSubscriber(Gateway.Port, "sn/again/will");
        await MosquittoClients.WaitUntilSubscribedAsync(wills);
        using (var lost = Gateway.Client())
        {
            Assert.Equal(0, await lost.ConnectAsync("sn-again", clean: false, will: ("sn/again/will", "gave up", 0, false)));
            var (_, topicId, _) = await lost.SubscribeAsync("sn/again", 1);
            lost.Topics[topicId] = "sn/again";
            await PublishAsync("sn/again", "not lost");
            Assert.Equal("not lost", (await lost.ReceivePublishAsync(acknowledge: false)).Payload);
            // Never acknowledged: after Nretry the gateway gives the client up (its will says so) — not the message.
            Assert.NotNull(await wills.WaitForLineAsync(l => l == "sn/again/will gave up", MosquittoClients.DefaultTimeout));
        }

        using var back = Gateway.Client(); // another source port: a new MQTT-SN connection to the same session
        Assert.Equal(0, await back.ConnectAsync("sn-again", clean: false));
        var again = await back.ReceivePublishAsync();
        Assert.Equal(("sn/again", "not lost"), (again.Topic, again.Payload));
    }

    [Fact]
    public async Task PingReq_IsAnswered_AndUnsubscribeStopsDeliveries()
    {
        using var client = Gateway.Client();
        Assert.Equal(0, await client.ConnectAsync("sn-unsub"));
        client.Send(PingReq);
        await client.ExpectAsync(PingResp);
        Assert.Equal(0, (await client.SubscribeAsync("sn/unsub", 0)).ReturnCode);
        var msgId = client.NextMsgId();
        client.Send(Unsubscribe, [Flags(clean: false)], U16(msgId), Text("sn/unsub"));
        Assert.Equal(U16(msgId), await client.ExpectAsync(UnsubAck));
        await PublishAsync("sn/unsub", "not for you", 0);
        Assert.True(await client.NothingAsync(TimeSpan.FromMilliseconds(500)));
    }
}
