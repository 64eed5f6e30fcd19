using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;

namespace Kirisame.Broker.Tests;

public sealed class QoSTests
{
    public static TheoryData<QualityOfService, QualityOfService> QoSPairs()
    {
        var data = new TheoryData<QualityOfService, QualityOfService>();
        foreach (var published in Enum.GetValues<QualityOfService>())
        {
            foreach (var granted in Enum.GetValues<QualityOfService>())
                data.Add(published, granted);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(QoSPairs))]
    public async Task DeliveryQoS_IsTheLowerOfPublishedAndGranted(QualityOfService published, QualityOfService granted) // [MQTT-3.8.4-8]; 3.1.1 [MQTT-3.8.4-6]
    {
        await using var broker = TestBroker.Create();
        await using var sub = new TestClient(broker, ProtocolVersion.V311);
        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await sub.ConnectAsync("sub");
        await pub.ConnectAsync("pub");
        await sub.SubscribeAsync("t", granted);
        await pub.PublishAndSettleAsync("t", "m", published);
        var p = await sub.ExpectPublishAsync();
        Assert.Equal(published < granted ? published : granted, p.QoS);
        Assert.Equal(p.QoS != QualityOfService.AtMostOnce, p.PacketId != 0); // [MQTT-2.3.1-5]
    }

    // [MQTT-4.3.3-8] PUBREC with the PUBLISH's identifier; [MQTT-4.3.3-10] a re-sent PUBLISH before PUBREL gets PUBREC
    // and is not delivered twice; [MQTT-4.3.3-11] PUBCOMP with the PUBREL's identifier; [MQTT-4.3.3-12] after PUBCOMP
    // the identifier names a new message; [MQTT-2.2.1-5] acknowledgements carry the PUBLISH's identifier.
    [Fact]
    public async Task QoS2_ResentPublishBeforePubRel_IsAcknowledgedButNotDeliveredTwice() // 3.1.1 [MQTT-4.3.3-2]
    {
        await using var broker = TestBroker.Create();
        await using var sub = new TestClient(broker, ProtocolVersion.V311);
        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await sub.ConnectAsync("sub");
        await pub.ConnectAsync("pub");
        await sub.SubscribeAsync("t", QualityOfService.AtLeastOnce);

        await pub.PublishAsync("t", "exactly once", QualityOfService.ExactlyOnce, packetId: 7);
        var rec = await pub.ExpectAsync<PublishAckPacket>();
        Assert.Equal((PacketType.PubRec, (ushort)7), (rec.Type, rec.PacketId));
        await pub.PublishAsync("t", "exactly once", QualityOfService.ExactlyOnce, packetId: 7, dup: true);
        var rec2 = await pub.ExpectAsync<PublishAckPacket>();
        Assert.Equal((PacketType.PubRec, (ushort)7), (rec2.Type, rec2.PacketId));

        var p = await sub.ExpectPublishAsync();
        Assert.Equal("exactly once", Text.Of(p.Payload));
        await sub.SendAsync(new PublishAckPacket(PacketType.PubAck, p.PacketId));
        await sub.ExpectNothingAsync();

        await pub.SendAsync(new PublishAckPacket(PacketType.PubRel, 7));
        var comp = await pub.ExpectAsync<PublishAckPacket>();
        Assert.Equal((PacketType.PubComp, (ushort)7), (comp.Type, comp.PacketId));

        // After PUBCOMP the identifier is free again: the same id now carries a new message.
        await pub.PublishAsync("t", "next", QualityOfService.ExactlyOnce, packetId: 7);
        Assert.Equal(PacketType.PubRec, (await pub.ExpectAsync<PublishAckPacket>()).Type);
        Assert.Equal("next", Text.Of((await sub.ExpectPublishAsync()).Payload));
    }

    [Fact]
    public async Task IncomingDupFlag_IsNotPropagatedToSubscribers() // [MQTT-3.3.1-3]
    {
        await using var broker = TestBroker.Create();
        await using var sub = new TestClient(broker, ProtocolVersion.V311);
        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await sub.ConnectAsync("sub");
        await pub.ConnectAsync("pub");
        await sub.SubscribeAsync("t", QualityOfService.AtLeastOnce);
        await pub.PublishAsync("t", "again?", QualityOfService.AtLeastOnce, dup: true);
        Assert.Equal(PacketType.PubAck, (await pub.ExpectAsync<PublishAckPacket>()).Type);
        Assert.False((await sub.ExpectPublishAsync()).Dup);
    }

    [Fact]
    public async Task QoS1Messages_ArriveInOrder_PerTopic() // [MQTT-4.6.0-5], [MQTT-4.6.0-6]
    {
        const int count = 100;
        await using var broker = TestBroker.Create();
        await using var sub = new TestClient(broker, ProtocolVersion.V311);
        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await sub.ConnectAsync("sub");
        await pub.ConnectAsync("pub");
        await sub.SubscribeAsync("ordered", QualityOfService.AtLeastOnce);

        for (var i = 0; i < count; i++)
            await pub.PublishAsync("ordered", i.ToString(System.Globalization.CultureInfo.InvariantCulture), QualityOfService.AtLeastOnce);
        for (var i = 0; i < count; i++)
            Assert.Equal(PacketType.PubAck, (await pub.ExpectAsync<PublishAckPacket>()).Type);

        for (var i = 0; i < count; i++)
        {
            var p = await sub.ExpectPublishAsync();
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), Text.Of(p.Payload));
            await sub.SendAsync(new PublishAckPacket(PacketType.PubAck, p.PacketId));
        }

        await sub.ExpectNothingAsync();
    }

    [Fact]
    public async Task OutboundInflightWindow_HoldsBackMessagesBeyondMaxInflight_UntilAcknowledged()
    {
        await using var broker = TestBroker.Create(); // MaxInflightMessages defaults to 20
        Assert.Equal(20, broker.Options.MaxInflightMessages);
        await using var sub = new TestClient(broker, ProtocolVersion.V311);
        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await sub.ConnectAsync("sub");
        await pub.ConnectAsync("pub");
        await sub.SubscribeAsync("w", QualityOfService.AtLeastOnce);
        for (var i = 0; i < 30; i++)
            await pub.PublishAndSettleAsync("w", "m" + i, QualityOfService.AtLeastOnce);

        var first = await sub.CollectPublishesAsync();
        Assert.Equal(20, first.Count);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => "m" + i), first.Select(p => Text.Of(p.Payload)));

        await sub.SendAsync(new PublishAckPacket(PacketType.PubAck, first[0].PacketId));
        Assert.Equal("m20", Text.Of((await sub.ExpectPublishAsync()).Payload));
        await sub.ExpectNothingAsync();

        foreach (var p in first.Skip(1))
            await sub.SendAsync(new PublishAckPacket(PacketType.PubAck, p.PacketId));
        var rest = await sub.CollectPublishesAsync();
        Assert.Equal(Enumerable.Range(21, 9).Select(i => "m" + i), rest.Select(p => Text.Of(p.Payload)));
    }

    // [MQTT-4.9.0-1] the send quota starts at the client's Receive Maximum (5, not our 20); [MQTT-4.9.0-2] no QoS > 0
    // PUBLISH while the quota is used up; [MQTT-3.3.4-10], [MQTT-4.9.0-3] the PUBREL
    // is not held back by the full window.
    [Fact]
    public async Task ClientReceiveMaximum_LowersTheOutboundWindow() // [MQTT-3.3.4-9]
    {
        await using var broker = TestBroker.Create();
        await using var sub = new TestClient(broker, ProtocolVersion.V500);
        await using var pub = new TestClient(broker, ProtocolVersion.V500);
        await sub.ConnectAsync("sub", properties: new MqttProperties { ReceiveMaximum = 5 });
        await pub.ConnectAsync("pub");
        await sub.SubscribeAsync("w", QualityOfService.ExactlyOnce);
        for (var i = 0; i < 8; i++)
            await pub.PublishAndSettleAsync("w", "m" + i, i % 2 == 0 ? QualityOfService.AtLeastOnce : QualityOfService.ExactlyOnce);

        var first = await sub.CollectPublishesAsync();
        Assert.Equal(5, first.Count);

        // A QoS 2 message leaves the window only at PUBCOMP, not at PUBREC.
        var qos2 = first.First(p => p.QoS == QualityOfService.ExactlyOnce);
        await sub.SendAsync(new PublishAckPacket(PacketType.PubRec, qos2.PacketId));
        Assert.Equal(PacketType.PubRel, (await sub.ExpectAsync<PublishAckPacket>()).Type);
        await sub.ExpectNothingAsync();
        await sub.SendAsync(new PublishAckPacket(PacketType.PubComp, qos2.PacketId));
        Assert.Equal("m5", Text.Of((await sub.ExpectPublishAsync()).Payload));
        await sub.ExpectNothingAsync();
    }
}
