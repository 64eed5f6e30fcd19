using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;
using Microsoft.Extensions.Time.Testing;

namespace Kirisame.Broker.Tests.Conformance;

/// MQTT 5.0 section 3.3 (PUBLISH) and the delivery protocols of section 4.3 and 4.4, the broker as receiver
/// (from a publisher) and as sender (to a subscriber).
public sealed class Section3_3_PublishTests
{
    private const ProtocolVersion V5 = ProtocolVersion.V500;

    private static MqttProperties Expiry(uint seconds) => new() { SessionExpiryInterval = seconds };

    // [MQTT-3.3.4-1] QoS 0: no reply, QoS 1: PUBACK, QoS 2: PUBREC; [MQTT-4.3.2-4] the PUBACK carries the PUBLISH's id.
    [Fact]
    public async Task EachQoS_GetsTheReplyItsQoSAsksFor()
    {
        await using var broker = TestBroker.Create();
        await using var client = new TestClient(broker, V5);
        await client.ConnectAsync("c");

        await client.PublishAsync("t", "0");
        await client.ExpectNothingAsync();
        await client.PublishAsync("t", "1", QualityOfService.AtLeastOnce, packetId: 11);
        var puback = await client.ExpectAsync<PublishAckPacket>();
        Assert.Equal((PacketType.PubAck, (ushort)11), (puback.Type, puback.PacketId));
        await client.PublishAsync("t", "2", QualityOfService.ExactlyOnce, packetId: 12);
        var pubrec = await client.ExpectAsync<PublishAckPacket>();
        Assert.Equal((PacketType.PubRec, (ushort)12), (pubrec.Type, pubrec.PacketId));
    }

    // [MQTT-4.3.2-5] after its PUBACK, a PUBLISH with the same identifier is a new message, DUP or not.
    [Fact]
    public async Task QoS1_SameIdentifierAfterPubAck_IsANewMessage()
    {
        await using var broker = TestBroker.Create();
        await using var sub = new TestClient(broker, V5);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("t");
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        await pub.PublishAsync("t", "first", QualityOfService.AtLeastOnce, packetId: 3);
        await pub.ExpectAsync<PublishAckPacket>();
        await pub.PublishAsync("t", "second", QualityOfService.AtLeastOnce, packetId: 3, dup: true);
        await pub.ExpectAsync<PublishAckPacket>();

        Assert.Equal(["first", "second"], (await sub.CollectPublishesAsync()).Select(p => Text.Of(p.Payload)));
    }

    // [MQTT-4.3.3-9] after a PUBREC of 0x80 or more, the same identifier starts a new message.
    [Fact]
    public async Task QoS2_SameIdentifierAfterAFailedPubRec_IsANewMessage()
    {
        await using var broker = TestBroker.Create();
        await using var sub = new TestClient(broker, V5);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("t");
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        await pub.PublishAsync("$SYS/forbidden", "no", QualityOfService.ExactlyOnce, packetId: 5);
        Assert.Equal(ReasonCode.NotAuthorized, (await pub.ExpectAsync<PublishAckPacket>()).ReasonCode);

        await pub.PublishAsync("t", "yes", QualityOfService.ExactlyOnce, packetId: 5);
        var rec = await pub.ExpectAsync<PublishAckPacket>();
        Assert.Equal((PacketType.PubRec, ReasonCode.Success), (rec.Type, rec.ReasonCode));
        Assert.Equal("yes", Text.Of((await sub.ExpectPublishAsync()).Payload));
    }

    // [MQTT-4.3.3-13] the broker as receiver completes the QoS 2 exchange of a message that expired meanwhile.
    [Fact]
    public async Task QoS2_ExchangeCompletes_AfterTheMessageExpired()
    {
        var time = new FakeTimeProvider();
        await using var broker = TestBroker.Create(time: time);
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        await pub.PublishAsync("t", "brief", QualityOfService.ExactlyOnce, packetId: 8, properties: new PublishProperties { MessageExpiryInterval = 1 });
        Assert.Equal(PacketType.PubRec, (await pub.ExpectAsync<PublishAckPacket>()).Type);
        time.Advance(TimeSpan.FromSeconds(30));

        await pub.SendAsync(new PublishAckPacket(PacketType.PubRel, 8));
        var comp = await pub.ExpectAsync<PublishAckPacket>();
        Assert.Equal((PacketType.PubComp, (ushort)8, ReasonCode.Success), (comp.Type, comp.PacketId, comp.ReasonCode));
    }

    // The broker as sender: [MQTT-4.3.1-1], [MQTT-3.3.1-2] QoS 0 with DUP 0; [MQTT-2.2.1-4], [MQTT-4.3.2-1],
    // [MQTT-4.3.3-1] a non-zero identifier not in use for each new QoS 1/2 message; [MQTT-4.3.2-2], [MQTT-4.3.3-2]
    // DUP 0 on the first send; [MQTT-2.2.1-2] no identifier at QoS 0 (the payload decodes exactly).
    [Fact]
    public async Task OutgoingPublishes_HaveFreshIdentifiers_AndDup0()
    {
        await using var broker = TestBroker.Create();
        await using var sub = new TestClient(broker, V5);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("t", QualityOfService.ExactlyOnce);
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        var qos = new[] { QualityOfService.AtMostOnce, QualityOfService.AtLeastOnce, QualityOfService.ExactlyOnce };
        for (var i = 0; i < 9; i++)
            await pub.PublishAndSettleAsync("t", "m" + i, qos[i % 3]);

        var received = await sub.CollectPublishesAsync();
        Assert.Equal(Enumerable.Range(0, 9).Select(i => "m" + i), received.Select(p => Text.Of(p.Payload)));
        Assert.All(received, p => Assert.False(p.Dup));
        Assert.All(received.Where(p => p.QoS == QualityOfService.AtMostOnce), p => Assert.Equal(0, p.PacketId));
        var ids = received.Where(p => p.QoS != QualityOfService.AtMostOnce).Select(p => p.PacketId).ToList();
        Assert.Equal(6, ids.Count);
        Assert.DoesNotContain((ushort)0, ids);
        Assert.Equal(ids.Count, ids.Distinct().Count()); // none acknowledged yet, so none may be reused
    }

    // [MQTT-4.3.3-7] a QoS 2 PUBLISH already sent is not expired: it is re-sent on reconnect, however late.
    [Fact]
    public async Task QoS2_SentThenExpired_IsStillResentOnReconnect()
    {
        var time = new FakeTimeProvider();
        await using var broker = TestBroker.Create(time: time);
        var sub = new TestClient(broker, V5);
        await sub.ConnectAsync("sub", cleanStart: false, properties: Expiry(600));
        await sub.SubscribeAsync("t", QualityOfService.ExactlyOnce);
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        await pub.PublishAsync("t", "late", QualityOfService.ExactlyOnce, properties: new PublishProperties { MessageExpiryInterval = 5 });
        await pub.ExpectAsync<PublishAckPacket>();
        var first = await sub.ExpectPublishAsync();
        await sub.DropAsync();
        await sub.ExpectClosedAsync();
        await sub.DisposeAsync();

        time.Advance(TimeSpan.FromSeconds(60));
        await using var again = new TestClient(broker, V5);
        Assert.True((await again.ConnectAsync("sub", cleanStart: false, properties: Expiry(600))).SessionPresent);
        var resent = await again.ExpectPublishAsync();
        Assert.Equal(("late", true, first.PacketId), (Text.Of(resent.Payload), resent.Dup, resent.PacketId));
        await again.SendAsync(new PublishAckPacket(PacketType.PubRec, resent.PacketId));
        Assert.Equal(PacketType.PubRel, (await again.ExpectAsync<PublishAckPacket>()).Type);
    }

    // [MQTT-4.4.0-2] after a PUBACK or PUBREC of 0x80 or more the message is acknowledged: no PUBREL, no re-send.
    [Fact]
    public async Task FailedPubAckOrPubRec_EndsTheDelivery_WithoutResend()
    {
        await using var broker = TestBroker.Create();
        var sub = new TestClient(broker, V5);
        await sub.ConnectAsync("sub", cleanStart: false, properties: Expiry(600));
        await sub.SubscribeAsync("t", QualityOfService.ExactlyOnce);
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        await pub.PublishAndSettleAsync("t", "one", QualityOfService.AtLeastOnce);
        await pub.PublishAndSettleAsync("t", "two", QualityOfService.ExactlyOnce);
        var one = await sub.ExpectPublishAsync();
        var two = await sub.ExpectPublishAsync();
        await sub.SendAsync(new PublishAckPacket(PacketType.PubAck, one.PacketId, ReasonCode.UnspecifiedError));
        await sub.SendAsync(new PublishAckPacket(PacketType.PubRec, two.PacketId, ReasonCode.ImplementationSpecificError));
        await sub.ExpectNothingAsync(); // no PUBREL for the refused QoS 2 message
        await sub.DisconnectAsync();
        await sub.DisposeAsync();

        await using var again = new TestClient(broker, V5);
        Assert.True((await again.ConnectAsync("sub", cleanStart: false, properties: Expiry(600))).SessionPresent);
        await again.ExpectNothingAsync();
    }

    // [MQTT-3.3.2-3] the topic sent matches the subscription's filter (it is the published topic name).
    [Theory]
    [InlineData("s/+/x", "s/abc/x")]
    [InlineData("s/#", "s/a/b/c")]
    [InlineData("+/+/+", "s/1/2")]
    public async Task ForwardedTopic_IsThePublishedTopicName(string filter, string topic)
    {
        await using var broker = TestBroker.Create();
        await using var sub = new TestClient(broker, V5);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync(filter);
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        await pub.PublishAndSettleAsync(topic, "x");
        Assert.Equal(topic, (await sub.ExpectPublishAsync()).TopicString);
    }

    // [MQTT-3.3.2-7] Topic Alias mappings do not outlive the connection, in either direction.
    [Fact]
    public async Task TopicAliases_AreForgottenWithTheConnection()
    {
        await using var broker = TestBroker.Create();
        await using var sub = new TestClient(broker, V5);
        var aliases = new MqttProperties { TopicAliasMaximum = 5, SessionExpiryInterval = 600 };
        await sub.ConnectAsync("sub", cleanStart: false, properties: aliases);
        await sub.SubscribeAsync("alias/#");
        var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub", cleanStart: false, properties: Expiry(600));
        await pub.PublishAsync("alias/x", "set", properties: new PublishProperties { TopicAlias = 1 });
        var first = await sub.ExpectPublishAsync();
        Assert.Equal("alias/x", first.TopicString);
        await pub.DisconnectAsync();
        await pub.DisposeAsync();
        await sub.DisconnectAsync();

        // The broker sends the topic again on the new connection, and does not resolve the old alias.
        await using var sub2 = new TestClient(broker, V5);
        await sub2.ConnectAsync("sub", cleanStart: false, properties: aliases);
        await using var pub2 = new TestClient(broker, V5);
        await pub2.ConnectAsync("pub", cleanStart: false, properties: Expiry(600));
        await pub2.PublishAndSettleAsync("alias/x", "again");
        Assert.Equal("alias/x", (await sub2.ExpectPublishAsync()).TopicString);
        await pub2.PublishAsync("", "stale", properties: new PublishProperties { TopicAlias = 1 });
        Assert.Equal(ReasonCode.ProtocolError, (await pub2.ExpectAsync<DisconnectPacket>()).ReasonCode);
        await sub2.ExpectNothingAsync();
    }

    // [MQTT-3.3.2-12] every alias from 1 to the Topic Alias Maximum in CONNACK is accepted.
    [Fact]
    public async Task TopicAliases_FromOneToTheMaximum_AreAccepted()
    {
        await using var broker = TestBroker.Create(o => o.TopicAliasMaximum = 3);
        await using var sub = new TestClient(broker, V5);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("a/#");
        await using var pub = new TestClient(broker, V5);
        Assert.Equal((ushort)3, (await pub.ConnectAsync("pub")).Properties?.TopicAliasMaximum);
        for (ushort alias = 1; alias <= 3; alias++)
            await pub.PublishAsync("a/" + alias, "set", properties: new PublishProperties { TopicAlias = alias });
        for (ushort alias = 3; alias >= 1; alias--)
            await pub.PublishAsync("", "use", properties: new PublishProperties { TopicAlias = alias });
        await pub.ExpectNothingAsync(); // the publisher's barrier: all six are routed before its PINGRESP

        var received = await sub.CollectPublishesAsync();
        Assert.Equal(["a/1", "a/2", "a/3", "a/3", "a/2", "a/1"], received.Select(p => p.TopicString));
    }

    // [MQTT-3.1.2-26], [MQTT-3.3.2-11] never an alias above the client's Topic Alias Maximum, however many topics;
    // [MQTT-3.3.2-8] never alias 0 (the test client's decoder refuses it).
    [Fact]
    public async Task OutgoingTopicAliases_StayWithinTheClientsMaximum()
    {
        await using var broker = TestBroker.Create();
        await using var sub = new TestClient(broker, V5);
        await sub.ConnectAsync("sub", properties: new MqttProperties { TopicAliasMaximum = 2 });
        await sub.SubscribeAsync("t/#");
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        for (var round = 0; round < 2; round++)
        {
            for (var i = 0; i < 5; i++)
                await pub.PublishAndSettleAsync("t/" + i, "x");
        }

        var received = await sub.CollectPublishesAsync();
        Assert.Equal(10, received.Count);
        Assert.All(received, p => Assert.InRange(p.Properties.TopicAlias, 0, 2));
        Assert.Equal(2, received.Select(p => p.Properties.TopicAlias).Where(a => a != 0).Distinct().Count());
    }

    // [MQTT-3.3.4-5] when a client gets two copies (a shared and a non-shared subscription), each carries the
    // identifier of its own subscription.
    [Fact]
    public async Task TwoCopiesForOneClient_EachCarryTheirSubscriptionsIdentifier()
    {
        await using var broker = TestBroker.Create();
        await using var sub = new TestClient(broker, V5);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("$share/g/t", properties: new MqttProperties { SubscriptionIdentifiers = [5] });
        await sub.SubscribeAsync("t", properties: new MqttProperties { SubscriptionIdentifiers = [7] });
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        await pub.PublishAndSettleAsync("t", "twice");

        var received = await sub.CollectPublishesAsync();
        Assert.Equal(2, received.Count);
        var ids = received.Select(p => Assert.Single(p.Properties.ToMqttProperties().SubscriptionIdentifiers!)).Order();
        Assert.Equal([5u, 7u], ids);
    }
}
