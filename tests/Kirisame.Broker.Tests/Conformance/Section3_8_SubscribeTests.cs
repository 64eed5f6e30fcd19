using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Broker.Tests.Conformance;

/// MQTT 5.0 sections 3.8 to 3.15: SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT and AUTH as the broker handles them.
public sealed class Section3_8_SubscribeTests
{
    private const ProtocolVersion V5 = ProtocolVersion.V500;

    // [MQTT-3.8.4-1] a SUBACK, [MQTT-3.8.4-2], [MQTT-2.2.1-6] with the SUBSCRIBE's identifier; [MQTT-3.8.4-5] several
    // filters handled one by one, one SUBACK; [MQTT-3.8.4-6] a reason code per filter, [MQTT-3.9.3-1] in filter order,
    // [MQTT-3.9.3-2] each a SUBACK code (the test client's decoder checks).
    [Fact]
    public async Task SubscribeWithSeveralFilters_GetsOneSubAck_WithACodePerFilterInOrder()
    {
        await using var broker = TestBroker.Create(o => o.WildcardSubscriptionAvailable = false);
        await using var client = new TestClient(broker, V5);
        await client.ConnectAsync("c");
        await client.SendAsync(new SubscribePacket
        {
            PacketId = 0x1234,
            Subscriptions =
            [
                new TopicSubscription("a", QualityOfService.ExactlyOnce),
                new TopicSubscription("b/+", QualityOfService.AtMostOnce),
                new TopicSubscription("c", QualityOfService.AtLeastOnce),
                new TopicSubscription("d", QualityOfService.AtMostOnce),
            ],
        });
        var ack = await client.ExpectAsync<SubAckPacket>();
        Assert.Equal(0x1234, ack.PacketId);
        Assert.Equal([ReasonCode.GrantedQoS2, ReasonCode.WildcardSubscriptionsNotSupported, ReasonCode.GrantedQoS1, ReasonCode.GrantedQoS0], ack.ReasonCodes);
        await client.ExpectNothingAsync();
        Assert.Equal(3, broker.Subscriptions.Count);
    }

    // [MQTT-3.10.4-5], [MQTT-2.2.1-6] the UNSUBACK carries the UNSUBSCRIBE's identifier.
    [Fact]
    public async Task UnsubAck_CarriesTheUnsubscribesIdentifier()
    {
        await using var broker = TestBroker.Create();
        await using var client = new TestClient(broker, V5);
        await client.ConnectAsync("c");
        await client.SendAsync(new UnsubscribePacket { PacketId = 0xBEEF, Filters = ["x"] });
        var ack = await client.ExpectAsync<UnsubAckPacket>();
        Assert.Equal((0xBEEF, ReasonCode.NoSubscriptionExisted), (ack.PacketId, Assert.Single(ack.ReasonCodes)));
    }

    // [MQTT-3.10.4-3] a QoS 2 message already being sent completes after UNSUBSCRIBE.
    [Fact]
    public async Task Unsubscribe_LetsAStartedQoS2DeliveryComplete()
    {
        await using var broker = TestBroker.Create();
        await using var sub = new TestClient(broker, V5);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("t", QualityOfService.ExactlyOnce);
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        await pub.PublishAndSettleAsync("t", "started", QualityOfService.ExactlyOnce);
        var p = await sub.ExpectPublishAsync();
        await sub.UnsubscribeAsync("t");

        await sub.SendAsync(new PublishAckPacket(PacketType.PubRec, p.PacketId));
        var rel = await sub.ExpectAsync<PublishAckPacket>();
        Assert.Equal((PacketType.PubRel, p.PacketId, ReasonCode.Success), (rel.Type, rel.PacketId, rel.ReasonCode));
        await sub.SendAsync(new PublishAckPacket(PacketType.PubComp, p.PacketId));
        await sub.ExpectNothingAsync();
    }

    // [MQTT-3.12.4-1] PINGREQ gets PINGRESP.
    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task PingReq_GetsPingResp(ProtocolVersion version)
    {
        await using var broker = TestBroker.Create();
        await using var client = new TestClient(broker, version);
        await client.ConnectAsync("c");
        await client.SendAsync(PingReqPacket.Instance);
        Assert.IsType<PingRespPacket>(await client.ReceiveAsync());
    }

    // [MQTT-3.14.1-1] DISCONNECT with a reserved bit set gets DISCONNECT 0x81; [MQTT-3.15.1-1] so does AUTH, and the
    // connection closes.
    [Theory]
    [InlineData(new byte[] { 0xE2, 0x00 })]
    [InlineData(new byte[] { 0xE1, 0x01, 0x00 })]
    [InlineData(new byte[] { 0xF1, 0x00 })]
    [InlineData(new byte[] { 0xF8, 0x01, 0x18 })]
    public async Task DisconnectOrAuthWithReservedFlags_IsMalformed(byte[] packet)
    {
        await using var broker = TestBroker.Create();
        await using var client = new TestClient(broker, V5);
        await client.ConnectAsync("c");
        await client.SendRawAsync(packet);
        Assert.Equal(ReasonCode.MalformedPacket, (await client.ExpectAsync<DisconnectPacket>()).ReasonCode);
        await client.ExpectClosedAsync();
    }
}
