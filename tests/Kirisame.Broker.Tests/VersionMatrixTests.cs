using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;
using Microsoft.Extensions.Time.Testing;

namespace Kirisame.Broker.Tests;

/// Publisher × subscriber across 3.1.1 and 5.0 (all four pairs).
public sealed class VersionMatrixTests
{
    public static TheoryData<ProtocolVersion, ProtocolVersion> Pairs => new()
    {
        { ProtocolVersion.V311, ProtocolVersion.V311 },
        { ProtocolVersion.V311, ProtocolVersion.V500 },
        { ProtocolVersion.V500, ProtocolVersion.V311 },
        { ProtocolVersion.V500, ProtocolVersion.V500 },
    };

    private static MqttBroker NewBroker(TimeProvider? time = null) => new(new BrokerOptions { SysInterval = 0 }, timeProvider: time);

    private static MqttProperties? PersistentProperties(ProtocolVersion version)
        => version == ProtocolVersion.V500 ? new MqttProperties { SessionExpiryInterval = 3600 } : null;

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task AllQoSLevels_RoundTrip(ProtocolVersion publisherVersion, ProtocolVersion subscriberVersion)
    {
        await using var broker = NewBroker();
        await using var sub = new TestClient(broker, subscriberVersion);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("m/#", QualityOfService.ExactlyOnce);
        await using var pub = new TestClient(broker, publisherVersion);
        await pub.ConnectAsync("pub");
        foreach (var qos in new[] { QualityOfService.AtMostOnce, QualityOfService.AtLeastOnce, QualityOfService.ExactlyOnce })
        {
            await pub.PublishAsync("m/q", $"qos{(int)qos}", qos);
            if (qos == QualityOfService.AtLeastOnce)
                await pub.ExpectAsync<PublishAckPacket>();
            if (qos == QualityOfService.ExactlyOnce)
            {
                var rec = await pub.ExpectAsync<PublishAckPacket>();
                await pub.SendAsync(new PublishAckPacket(PacketType.PubRel, rec.PacketId));
                await pub.ExpectAsync<PublishAckPacket>();
            }

            var p = await sub.ExpectPublishAsync();
            Assert.Equal(qos, p.QoS);
            Assert.Equal($"qos{(int)qos}", Text.Of(p.Payload));
            if (qos == QualityOfService.AtLeastOnce)
                await sub.SendAsync(new PublishAckPacket(PacketType.PubAck, p.PacketId));
            if (qos == QualityOfService.ExactlyOnce)
            {
                await sub.SendAsync(new PublishAckPacket(PacketType.PubRec, p.PacketId));
                await sub.ExpectAsync<PublishAckPacket>();
                await sub.SendAsync(new PublishAckPacket(PacketType.PubComp, p.PacketId));
            }
        }

        await sub.ExpectNothingAsync();
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task Retained_IsDelivered(ProtocolVersion publisherVersion, ProtocolVersion subscriberVersion)
    {
        await using var broker = NewBroker();
        await using var pub = new TestClient(broker, publisherVersion);
        await pub.ConnectAsync("pub");
        await pub.PublishAsync("r/x", "kept", QualityOfService.AtLeastOnce, retain: true);
        await pub.ExpectAsync<PublishAckPacket>();
        await using var sub = new TestClient(broker, subscriberVersion);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("r/#", QualityOfService.AtLeastOnce);
        var p = await sub.ExpectPublishAsync();
        Assert.True(p.Retain);
        Assert.Equal("kept", Text.Of(p.Payload));
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task Will_IsDelivered(ProtocolVersion willVersion, ProtocolVersion subscriberVersion)
    {
        await using var broker = NewBroker();
        await using var sub = new TestClient(broker, subscriberVersion);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("will/#", QualityOfService.AtLeastOnce);
        var dying = new TestClient(broker, willVersion);
        await dying.ConnectAsync("dying", will: new WillMessage { Topic = "will/x", Payload = "gone"u8.ToArray(), QoS = QualityOfService.AtLeastOnce });
        await dying.DropAsync();
        var p = await sub.ExpectPublishAsync();
        Assert.Equal("gone", Text.Of(p.Payload));
        Assert.Equal(QualityOfService.AtLeastOnce, p.QoS);
        await dying.DisposeAsync();
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task PersistentSession_ResumesWithQueuedMessages(ProtocolVersion publisherVersion, ProtocolVersion subscriberVersion)
    {
        await using var broker = NewBroker();
        var sub = new TestClient(broker, subscriberVersion);
        await sub.ConnectAsync("sub", cleanStart: false, properties: PersistentProperties(subscriberVersion));
        await sub.SubscribeAsync("p/#", QualityOfService.AtLeastOnce);
        await sub.DisconnectAsync();
        await sub.DisposeAsync();
        await using var pub = new TestClient(broker, publisherVersion);
        await pub.ConnectAsync("pub");
        await pub.PublishAsync("p/x", "while away", QualityOfService.AtLeastOnce);
        await pub.ExpectAsync<PublishAckPacket>();
        await using var back = new TestClient(broker, subscriberVersion);
        Assert.True((await back.ConnectAsync("sub", cleanStart: false, properties: PersistentProperties(subscriberVersion))).SessionPresent);
        Assert.Equal("while away", Text.Of((await back.ExpectPublishAsync()).Payload));
    }

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task MessageExpiry_FromV5Publisher_AppliesToEitherSubscriber(ProtocolVersion subscriberVersion)
    {
        var time = new FakeTimeProvider();
        await using var broker = NewBroker(time);
        var sub = new TestClient(broker, subscriberVersion);
        await sub.ConnectAsync("sub", cleanStart: false, properties: PersistentProperties(subscriberVersion));
        await sub.SubscribeAsync("x/#", QualityOfService.AtLeastOnce);
        await sub.DisconnectAsync();
        await sub.DisposeAsync();
        await using var pub = new TestClient(broker, ProtocolVersion.V500);
        await pub.ConnectAsync("pub");
        await pub.PublishAsync("x/1", "expires", QualityOfService.AtLeastOnce, properties: new PublishProperties { MessageExpiryInterval = 2 });
        await pub.ExpectAsync<PublishAckPacket>();
        time.Advance(TimeSpan.FromSeconds(3));
        await using var back = new TestClient(broker, subscriberVersion);
        await back.ConnectAsync("sub", cleanStart: false, properties: PersistentProperties(subscriberVersion));
        await back.ExpectNothingAsync();
    }

    [Fact]
    public async Task V5Properties_NeverLeakToV3Subscriber()
    {
        await using var broker = NewBroker();
        await using var sub = new TestClient(broker, ProtocolVersion.V311);
        await sub.ConnectAsync("v3");
        await sub.SubscribeAsync("leak");
        await using var pub = new TestClient(broker, ProtocolVersion.V500);
        await pub.ConnectAsync("v5");
        var properties = new MqttProperties
        {
            ContentType = "application/json",
            ResponseTopic = "r",
            CorrelationData = [9],
            UserProperties = [new("k", "v")],
            MessageExpiryInterval = 60,
        };
        await pub.PublishAsync("leak", "{}", properties: PublishProperties.From(properties));
        var p = await sub.ExpectPublishAsync();
        Assert.Equal("{}", Text.Of(p.Payload)); // a property block would show up as payload bytes
        Assert.True(p.Properties.IsEmpty);
    }

    [Fact]
    public async Task V3Publish_ReachesV5Subscriber_WithDefaults()
    {
        await using var broker = NewBroker();
        await using var sub = new TestClient(broker, ProtocolVersion.V500);
        await sub.ConnectAsync("v5");
        await sub.SubscribeAsync("plain", QualityOfService.AtLeastOnce);
        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await pub.ConnectAsync("v3");
        await pub.PublishAsync("plain", "text", QualityOfService.AtLeastOnce);
        await pub.ExpectAsync<PublishAckPacket>();
        var p = await sub.ExpectPublishAsync();
        Assert.Equal("text", Text.Of(p.Payload));
        Assert.Null(p.Properties.PayloadFormatIndicator);
        Assert.Null(p.Properties.MessageExpiryInterval);
        Assert.True(p.Properties.UserProperties.IsEmpty);
        Assert.False(p.Retain);
    }
}
