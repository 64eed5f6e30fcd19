using System.Text;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;

namespace Kirisame.Broker.Tests;

/// One encoding per variant (issue 12, item 7): subscribers that receive the same bytes share one encoded PUBLISH
/// with their own packet identifier patched in. Each subscriber here must still get exactly what it would have got
/// encoded for itself: its packet identifier, its QoS, its Subscription Identifier, the remaining expiry, and
/// nothing over its Maximum Packet Size.
public sealed class SharedEncodingTests
{
    private static string Text(PublishPacket p) => Encoding.UTF8.GetString(p.Payload.Span);

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task SubscribersOfOneVariant_EachGetTheirOwnPacketIdentifier(ProtocolVersion version)
    {
        await using var broker = TestBroker.Create();
        var subscribers = new List<TestClient>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                var subscriber = new TestClient(broker, version);
                subscribers.Add(subscriber);
                await subscriber.ConnectAsync("sub" + i);
                await subscriber.SubscribeAsync("t/#", QualityOfService.AtLeastOnce);
                // Subscriber i has i messages in flight already, so the shared message takes packet id i + 1.
                await subscriber.SubscribeAsync("own/" + i, QualityOfService.AtLeastOnce);
            }

            await using var publisher = new TestClient(broker, version);
            await publisher.ConnectAsync("pub");
            for (var i = 0; i < 4; i++)
            {
                for (var n = 0; n < i; n++)
                    await publisher.PublishAndSettleAsync("own/" + i, "warm-up", QualityOfService.AtLeastOnce);
            }

            Assert.Equal(ReasonCode.Success, await publisher.PublishAndSettleAsync("t/shared", "for everyone", QualityOfService.AtLeastOnce));

            for (var i = 0; i < 4; i++)
            {
                for (var n = 0; n < i; n++)
                    Assert.Equal("warm-up", Text(await subscribers[i].ExpectPublishAsync()));
                var shared = await subscribers[i].ExpectPublishAsync();
                Assert.Equal(("t/shared", "for everyone", QualityOfService.AtLeastOnce, (ushort)(i + 1)),
                    (Encoding.UTF8.GetString(shared.Topic.Span), Text(shared), shared.QoS, shared.PacketId));
                await subscribers[i].SendAsync(new PublishAckPacket(PacketType.PubAck, shared.PacketId));
            }
        }
        finally
        {
            foreach (var subscriber in subscribers)
                await subscriber.DisposeAsync();
        }
    }

    [Fact]
    public async Task MixedSubscribers_EachGetTheirVariant_ProtocolQoSAndSubscriptionIdentifier()
    {
        await using var broker = TestBroker.Create();
        await using var v3 = new TestClient(broker, ProtocolVersion.V311);
        await v3.ConnectAsync("v3");
        await v3.SubscribeAsync("t", QualityOfService.AtLeastOnce);
        await using var v5 = new TestClient(broker, ProtocolVersion.V500);
        await v5.ConnectAsync("v5");
        await v5.SubscribeAsync("t", QualityOfService.AtLeastOnce);
        await using var v5Qos0 = new TestClient(broker, ProtocolVersion.V500);
        await v5Qos0.ConnectAsync("v5-qos0");
        await v5Qos0.SubscribeAsync("t", QualityOfService.AtMostOnce);
        await using var v5WithId = new TestClient(broker, ProtocolVersion.V500);
        await v5WithId.ConnectAsync("v5-id");
        await v5WithId.SubscribeAsync("t", QualityOfService.AtLeastOnce, new MqttProperties { SubscriptionIdentifiers = [42] });

        await using var publisher = new TestClient(broker, ProtocolVersion.V500);
        await publisher.ConnectAsync("pub");
        var properties = new PublishProperties { ContentType = "text/plain"u8.ToArray() };
        await publisher.PublishAsync("t", "hello", QualityOfService.AtLeastOnce, properties: properties);
        await publisher.ExpectAsync<PublishAckPacket>();

        var fromV3 = await v3.ExpectPublishAsync();
        Assert.Equal(("hello", QualityOfService.AtLeastOnce), (Text(fromV3), fromV3.QoS));
        Assert.True(fromV3.Properties.IsEmpty); // 3.1.1 has no properties

        var fromV5 = await v5.ExpectPublishAsync();
        Assert.Equal("text/plain", Encoding.UTF8.GetString(fromV5.Properties.ContentType!.Value.Span));
        Assert.True(fromV5.Properties.SubscriptionIdentifiers.IsEmpty);

        var fromQos0 = await v5Qos0.ExpectPublishAsync();
        Assert.Equal((QualityOfService.AtMostOnce, (ushort)0), (fromQos0.QoS, fromQos0.PacketId));
        Assert.Equal("text/plain", Encoding.UTF8.GetString(fromQos0.Properties.ContentType!.Value.Span));

        var withId = await v5WithId.ExpectPublishAsync();
        Assert.Equal([42u], withId.Properties.ToMqttProperties().SubscriptionIdentifiers!);
        Assert.Equal("hello", Text(withId));
    }

    [Fact]
    public async Task MessageWithExpiry_CarriesEachSubscribersRemainingSeconds()
    {
        await using var broker = TestBroker.Create();
        await using var a = new TestClient(broker, ProtocolVersion.V500);
        await a.ConnectAsync("a");
        await a.SubscribeAsync("t");
        await using var b = new TestClient(broker, ProtocolVersion.V500);
        await b.ConnectAsync("b");
        await b.SubscribeAsync("t");

        await using var publisher = new TestClient(broker, ProtocolVersion.V500);
        await publisher.ConnectAsync("pub");
        await publisher.PublishAsync("t", "soon gone", properties: new PublishProperties { MessageExpiryInterval = 60 });

        foreach (var subscriber in new[] { a, b })
        {
            var publish = await subscriber.ExpectPublishAsync();
            Assert.InRange(publish.Properties.MessageExpiryInterval ?? 0, 59u, 60u); // [MQTT-3.3.2-6]
        }
    }

    [Fact]
    public async Task SubscriberWithASmallMaximumPacketSize_DoesNotGetTheSharedBytes_OthersDo()
    {
        await using var broker = TestBroker.Create();
        await using var small = new TestClient(broker, ProtocolVersion.V500);
        await small.ConnectAsync("small", properties: new MqttProperties { MaximumPacketSize = 64 });
        await small.SubscribeAsync("t");
        await using var large = new TestClient(broker, ProtocolVersion.V500);
        await large.ConnectAsync("large");
        await large.SubscribeAsync("t");

        await using var publisher = new TestClient(broker, ProtocolVersion.V500);
        await publisher.ConnectAsync("pub");
        var payload = new string('x', 200);
        await publisher.PublishAsync("t", payload);
        await publisher.PublishAsync("t", "tiny");

        Assert.Equal(payload, Text(await large.ExpectPublishAsync()));
        Assert.Equal("tiny", Text(await large.ExpectPublishAsync()));
        Assert.Equal("tiny", Text(await small.ExpectPublishAsync())); // the large one was dropped for it [MQTT-3.1.2-25]
        await small.ExpectNothingAsync();
    }
}
