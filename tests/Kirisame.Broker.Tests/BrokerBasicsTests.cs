using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Broker.Tests;

public sealed class BrokerBasicsTests
{
    private static MqttBroker NewBroker(BrokerOptions? options = null) => new(options ?? new BrokerOptions { SysInterval = 0 });

    // A client that publishes and disconnects at once (mosquitto_pub): the transport may say the connection is
    // closed (Kestrel's ConnectionClosed) before the broker has handled the bytes that came first. They are
    // still handled, and the connection ends with its input.
    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task PublishThenDisconnect_IsDelivered_EvenWhenTheTransportReportsTheCloseFirst(ProtocolVersion version)
    {
        await using var broker = NewBroker();
        await using var sub = new TestClient(broker, version);
        Assert.Equal(ReasonCode.Success, (await sub.ConnectAsync("sub")).ReasonCode);
        await sub.SubscribeAsync("last/words");
        using var transportClosed = new CancellationTokenSource();
        await using var pub = new TestClient(broker, version, transportClosed: transportClosed.Token);
        Assert.Equal(ReasonCode.Success, (await pub.ConnectAsync("pub")).ReasonCode);

        await transportClosed.CancelAsync();
        await pub.PublishAsync("last/words", "goodbye");
        await pub.SendAsync(new DisconnectPacket());
        await pub.DropAsync();

        var delivered = await sub.ExpectPublishAsync();
        Assert.Equal("goodbye", Text.Of(delivered.Payload));
        await pub.ServerTask.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Theory]
    [InlineData(ProtocolVersion.V310)]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task Publish_IsDeliveredToSubscriber_AtEachQoS(ProtocolVersion version)
    {
        await using var broker = NewBroker();
        await using var sub = new TestClient(broker, version);
        await using var pub = new TestClient(broker, version);
        Assert.Equal(ReasonCode.Success, (await sub.ConnectAsync("sub")).ReasonCode);
        Assert.Equal(ReasonCode.Success, (await pub.ConnectAsync("pub")).ReasonCode);
        var ack = await sub.SubscribeAsync("a/+", QualityOfService.ExactlyOnce);
        Assert.Equal([ReasonCode.GrantedQoS2], ack.ReasonCodes);

        await pub.PublishAsync("a/b", "zero");
        var p0 = await sub.ExpectPublishAsync();
        Assert.Equal("a/b", p0.TopicString);
        Assert.Equal("zero", Text.Of(p0.Payload));
        Assert.Equal(QualityOfService.AtMostOnce, p0.QoS);

        await pub.PublishAsync("a/c", "one", QualityOfService.AtLeastOnce);
        var puback = await pub.ExpectAsync<PublishAckPacket>();
        Assert.Equal(PacketType.PubAck, puback.Type);
        var p1 = await sub.ExpectPublishAsync();
        Assert.Equal(QualityOfService.AtLeastOnce, p1.QoS);
        Assert.NotEqual(0, p1.PacketId);
        await sub.SendAsync(new PublishAckPacket(PacketType.PubAck, p1.PacketId));

        await pub.PublishAsync("a/d", "two", QualityOfService.ExactlyOnce);
        var pubrec = await pub.ExpectAsync<PublishAckPacket>();
        Assert.Equal(PacketType.PubRec, pubrec.Type);
        await pub.SendAsync(new PublishAckPacket(PacketType.PubRel, pubrec.PacketId));
        Assert.Equal(PacketType.PubComp, (await pub.ExpectAsync<PublishAckPacket>()).Type);
        var p2 = await sub.ExpectPublishAsync();
        Assert.Equal(QualityOfService.ExactlyOnce, p2.QoS);
        await sub.SendAsync(new PublishAckPacket(PacketType.PubRec, p2.PacketId));
        var pubrel = await sub.ExpectAsync<PublishAckPacket>();
        Assert.Equal(PacketType.PubRel, pubrel.Type);
        await sub.SendAsync(new PublishAckPacket(PacketType.PubComp, p2.PacketId));
        await sub.ExpectNothingAsync();
    }

    [Fact]
    public async Task RetainedMessage_IsDeliveredOnSubscribe_WithRetainFlag()
    {
        await using var broker = NewBroker();
        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await pub.ConnectAsync("pub");
        await pub.PublishAsync("r/t", "kept", QualityOfService.AtLeastOnce, retain: true);
        await pub.ExpectAsync<PublishAckPacket>();

        await using var sub = new TestClient(broker, ProtocolVersion.V311);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("r/#", QualityOfService.AtLeastOnce);
        var p = await sub.ExpectPublishAsync();
        Assert.True(p.Retain);
        Assert.Equal("kept", Text.Of(p.Payload));
    }

    [Fact]
    public async Task Will_IsPublished_WhenConnectionDropsWithoutDisconnect()
    {
        await using var broker = NewBroker();
        await using var watcher = new TestClient(broker, ProtocolVersion.V311);
        await watcher.ConnectAsync("watcher");
        await watcher.SubscribeAsync("wills/#");
        var dying = new TestClient(broker, ProtocolVersion.V311);
        await dying.ConnectAsync("dying", will: new WillMessage { Topic = "wills/dying", Payload = "bye"u8.ToArray() });
        await dying.DropAsync();
        var p = await watcher.ExpectPublishAsync();
        Assert.Equal("wills/dying", p.TopicString);
        Assert.Equal("bye", Text.Of(p.Payload));
        await dying.DisposeAsync();
    }

    [Fact]
    public async Task PersistentSession_ReceivesQueuedMessages_AfterReconnect()
    {
        await using var broker = NewBroker();
        await TestClient.LeaveOfflineSessionAsync(broker, "persistent", "q/#");

        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await pub.ConnectAsync("pub");
        for (var i = 0; i < 3; i++)
        {
            await pub.PublishAsync("q/x", "m" + i, QualityOfService.AtLeastOnce);
            await pub.ExpectAsync<PublishAckPacket>();
        }

        await using var again = new TestClient(broker, ProtocolVersion.V311);
        var connAck = await again.ConnectAsync("persistent", cleanStart: false);
        Assert.True(connAck.SessionPresent);
        for (var i = 0; i < 3; i++)
        {
            var p = await again.ExpectPublishAsync();
            Assert.Equal("m" + i, Text.Of(p.Payload));
            await again.SendAsync(new PublishAckPacket(PacketType.PubAck, p.PacketId));
        }
    }

    [Fact]
    public async Task SecondConnectWithSameClientId_TakesOverAndClosesTheFirst_With0x8E()
    {
        await using var broker = NewBroker();
        await using var first = new TestClient(broker, ProtocolVersion.V500);
        await first.ConnectAsync("same");
        await using var second = new TestClient(broker, ProtocolVersion.V500);
        await second.ConnectAsync("same");
        var disconnect = await first.ExpectAsync<DisconnectPacket>();
        Assert.Equal(ReasonCode.SessionTakenOver, disconnect.ReasonCode);
        await first.ExpectClosedAsync();
    }

    [Fact]
    public async Task TopicThatOnlyStartsWithSysLetters_IsAnOrdinaryTopic()
    {
        await using var broker = NewBroker();
        await using var sub = new TestClient(broker, ProtocolVersion.V500);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("$SYSTEM/#");
        await using var pub = new TestClient(broker, ProtocolVersion.V500);
        await pub.ConnectAsync("pub");
        await pub.PublishAsync("$SYSTEM/x", "ok", QualityOfService.AtLeastOnce);
        Assert.Equal(ReasonCode.Success, (await pub.ExpectAsync<PublishAckPacket>()).ReasonCode);
        Assert.Equal("ok", Text.Of((await sub.ExpectPublishAsync()).Payload));
    }
}
