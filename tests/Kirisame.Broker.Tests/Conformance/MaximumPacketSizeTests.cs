using Kirisame.Broker.Security;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;

namespace Kirisame.Broker.Tests.Conformance;

/// The client's Maximum Packet Size (MQTT 5.0 section 3.1.2.11.4) bounds every packet the broker sends: a Reason
/// String or User Property that would exceed it is left out, whatever the packet.
public sealed class MaximumPacketSizeTests
{
    private const ProtocolVersion V5 = ProtocolVersion.V500;

    /// Room for any acknowledgement with a reason code, not for a Reason String as well.
    private static MqttProperties Small() => new() { MaximumPacketSize = 16 };

    // [MQTT-3.2.2-19], [MQTT-3.2.2-20] a refusing CONNACK leaves out its Reason String.
    [Fact]
    public async Task RefusingConnAck_LeavesOutTheReasonString_ThatWouldNotFit()
    {
        await using var broker = TestBroker.Create(authenticator: new Refuse());
        await using var client = new TestClient(broker, V5);
        var ack = await client.ConnectAsync("c", properties: Small());
        Assert.Equal(ReasonCode.NotAuthorized, ack.ReasonCode);
        Assert.Null(ack.Properties?.ReasonString);
        Assert.Null(ack.Properties?.UserProperties);

        await using var roomy = new TestClient(broker, V5);
        Assert.NotNull((await roomy.ConnectAsync("c")).Properties?.ReasonString); // it is sent when it fits
    }

    // [MQTT-3.4.2-2], [MQTT-3.4.2-3] PUBACK and [MQTT-3.5.2-2], [MQTT-3.5.2-3] PUBREC with an error code leave out their
    // Reason String; [MQTT-3.6.2-2], [MQTT-3.6.2-3] PUBREL, [MQTT-3.7.2-2], [MQTT-3.7.2-3] PUBCOMP,
    // [MQTT-3.9.2-1], [MQTT-3.9.2-2] SUBACK and [MQTT-3.11.2-1], [MQTT-3.11.2-2] UNSUBACK with a failure leave theirs out too.
    [Fact]
    public async Task Acknowledgements_LeaveOutTheReasonString_ThatWouldNotFit()
    {
        await using var broker = TestBroker.Create(o => o.WildcardSubscriptionAvailable = false);
        await using var client = new TestClient(broker, V5);
        await client.ConnectAsync("c", properties: Small());

        await client.PublishAsync("$SYS/x", "no", QualityOfService.AtLeastOnce);
        AssertBare(await client.ExpectAsync<PublishAckPacket>(), PacketType.PubAck, ReasonCode.NotAuthorized);
        await client.SendAsync(new PublishMessagePacket(new PublishPacket
        {
            Topic = "t"u8.ToArray(),
            Payload = new byte[] { 0xFF },
            QoS = QualityOfService.ExactlyOnce,
            PacketId = 2,
            Properties = new PublishProperties { PayloadFormatIndicator = 1 },
        }));
        AssertBare(await client.ExpectAsync<PublishAckPacket>(), PacketType.PubRec, ReasonCode.PayloadFormatInvalid);
        await client.SendAsync(new PublishAckPacket(PacketType.PubRel, 2));
        AssertBare(await client.ExpectAsync<PublishAckPacket>(), PacketType.PubComp, ReasonCode.PacketIdentifierNotFound);
        await client.SendAsync(new PublishAckPacket(PacketType.PubRec, 9));
        AssertBare(await client.ExpectAsync<PublishAckPacket>(), PacketType.PubRel, ReasonCode.PacketIdentifierNotFound);

        var subAck = await client.SubscribeAsync("w/+");
        Assert.Equal([ReasonCode.WildcardSubscriptionsNotSupported], subAck.ReasonCodes);
        Assert.Null(subAck.Properties);
        var unsubAck = await client.UnsubscribeAsync("never");
        Assert.Equal([ReasonCode.NoSubscriptionExisted], unsubAck.ReasonCodes);
        Assert.Null(unsubAck.Properties);

        // The same acks to a client with room for them carry a Reason String.
        await using var roomy = new TestClient(broker, V5);
        await roomy.ConnectAsync("roomy");
        Assert.NotNull((await roomy.SubscribeAsync("w/+")).Properties?.ReasonString);
        Assert.NotNull((await roomy.UnsubscribeAsync("never")).Properties?.ReasonString);
    }

    // [MQTT-3.14.2-3], [MQTT-3.14.2-4] the broker's DISCONNECT leaves out its Reason String.
    [Fact]
    public async Task Disconnect_LeavesOutTheReasonString_ThatWouldNotFit()
    {
        await using var broker = TestBroker.Create();
        await using var client = new TestClient(broker, V5);
        await client.ConnectAsync("c", properties: Small());
        await client.SendAsync(new ConnectPacket { ProtocolVersion = V5, ClientId = "c" });
        var disconnect = await client.ExpectAsync<DisconnectPacket>();
        Assert.Equal(ReasonCode.ProtocolError, disconnect.ReasonCode);
        Assert.Null(disconnect.Properties?.ReasonString);
        await client.ExpectClosedAsync();
    }

    private static void AssertBare(PublishAckPacket ack, PacketType type, ReasonCode reason)
    {
        Assert.Equal((type, reason), (ack.Type, ack.ReasonCode));
        Assert.Null(ack.Properties?.ReasonString);
        Assert.Null(ack.Properties?.UserProperties);
    }

    private sealed class Refuse : IAuthenticator
    {
        public ValueTask<ReasonCode> AuthenticateAsync(ConnectContext context, CancellationToken cancellationToken)
            => ValueTask.FromResult(ReasonCode.NotAuthorized);
    }
}
