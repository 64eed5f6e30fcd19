using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Broker.Tests;

/// A malformed packet or protocol error closes the connection ([MQTT-4.13.1-1]; 3.1.1 [MQTT-4.8.0-1]);
/// a v5 client first gets DISCONNECT with the reason code the codec gives (DecodeErrors.ToReasonCode).
public sealed class MalformedInputTests
{
    /// Raw bytes sent after a successful CONNECT, for v3 (no properties) and v5, and the v5 reason.
    public static TheoryData<string, byte[], byte[], ReasonCode> BadPackets => new()
    {
        { "remaining length of five bytes", new byte[] { 0x30, 0xFF, 0xFF, 0xFF, 0xFF }, new byte[] { 0x30, 0xFF, 0xFF, 0xFF, 0xFF }, ReasonCode.MalformedPacket },
        { "reserved packet type 0", new byte[] { 0x00, 0x00 }, new byte[] { 0x00, 0x00 }, ReasonCode.MalformedPacket },
        { "PUBLISH with QoS 3", new byte[] { 0x36, 0x06, 0x00, 0x01, 0x61, 0x00, 0x01, 0x78 }, new byte[] { 0x36, 0x07, 0x00, 0x01, 0x61, 0x00, 0x01, 0x00, 0x78 }, ReasonCode.MalformedPacket },
        { "QoS 1 PUBLISH with packet id 0", new byte[] { 0x32, 0x06, 0x00, 0x01, 0x61, 0x00, 0x00, 0x78 }, new byte[] { 0x32, 0x07, 0x00, 0x01, 0x61, 0x00, 0x00, 0x00, 0x78 }, ReasonCode.ProtocolError },
        { "wildcard in a topic name", new byte[] { 0x30, 0x06, 0x00, 0x03, 0x61, 0x2F, 0x2B, 0x78 }, new byte[] { 0x30, 0x07, 0x00, 0x03, 0x61, 0x2F, 0x2B, 0x00, 0x78 }, ReasonCode.TopicNameInvalid },
        { "SUBSCRIBE with flags 0", new byte[] { 0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00 }, new byte[] { 0x80, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61, 0x00 }, ReasonCode.MalformedPacket },
        { "PINGREQ with a body", new byte[] { 0xC0, 0x01, 0x00 }, new byte[] { 0xC0, 0x01, 0x00 }, ReasonCode.MalformedPacket },
        { "CONNACK from a client", new byte[] { 0x20, 0x02, 0x00, 0x00 }, new byte[] { 0x20, 0x03, 0x00, 0x00, 0x00 }, ReasonCode.ProtocolError },
    };

    // [MQTT-4.13.1-1], [MQTT-4.13.2-1] closed after the DISCONNECT; [MQTT-3.14.4-1], [MQTT-3.14.4-2] nothing follows the
    // DISCONNECT and the connection closes; [MQTT-3.14.2-1] a DISCONNECT reason code (the test client's decoder checks).
    // Rows: [MQTT-2.1.3-1] reserved flags, [MQTT-3.8.1-1] SUBSCRIBE flags, [MQTT-3.3.1-4] QoS 3.
    [Theory]
    [MemberData(nameof(BadPackets))]
    public async Task BadPacket_V5_GetsDisconnectWithTheReasonCode_ClosesAndPublishesTheWill(string what, byte[] v3, byte[] v5, ReasonCode reason)
    {
        _ = (what, v3); // what names the case in the test output; v3 is for the other test
        await using var broker = TestBroker.Create();
        await using var bystander = new TestClient(broker, ProtocolVersion.V500);
        await bystander.ConnectAsync("bystander");
        await bystander.SubscribeAsync("wills/#");
        await using var bad = new TestClient(broker, ProtocolVersion.V500);
        await bad.ConnectAsync("bad", will: new WillMessage { Topic = "wills/bad", Payload = "gone"u8.ToArray() });

        await bad.SendRawAsync(v5);
        Assert.Equal(reason, (await bad.ExpectAsync<DisconnectPacket>()).ReasonCode);
        Assert.Null(await bad.ReceiveAsync());
        await bad.ExpectClosedAsync();

        Assert.Equal("gone", Text.Of((await bystander.ExpectPublishAsync()).Payload));
        await BystanderIsUnaffectedAsync(broker, bystander);
    }

    [Theory]
    [MemberData(nameof(BadPackets))]
    public async Task BadPacket_V311_ClosesWithoutAReply_AndPublishesTheWill(string what, byte[] v3, byte[] v5, ReasonCode reason)
    {
        _ = (what, v5, reason); // v3 has no DISCONNECT to carry a reason
        await using var broker = TestBroker.Create();
        await using var bystander = new TestClient(broker, ProtocolVersion.V311);
        await bystander.ConnectAsync("bystander");
        await bystander.SubscribeAsync("wills/#");
        await using var bad = new TestClient(broker, ProtocolVersion.V311);
        await bad.ConnectAsync("bad", will: new WillMessage { Topic = "wills/bad", Payload = "gone"u8.ToArray() });

        await bad.SendRawAsync(v3);
        Assert.Null(await bad.ReceiveAsync());
        await bad.ExpectClosedAsync();

        Assert.Equal("gone", Text.Of((await bystander.ExpectPublishAsync()).Payload));
        await BystanderIsUnaffectedAsync(broker, bystander);
    }

    // The client broke 3.2.2-15; the server's side: [MQTT-4.13.1-1].
    [Fact]
    public async Task PacketLargerThanMaximumPacketSize_V5_GetsDisconnect0x95()
    {
        await using var broker = TestBroker.Create(o => o.MaximumPacketSize = 128);
        await using var client = new TestClient(broker, ProtocolVersion.V500);
        var ack = await client.ConnectAsync("big");
        Assert.Equal(128u, ack.Properties?.MaximumPacketSize);
        await client.PublishAsync("t", new string('x', 200));
        Assert.Equal(ReasonCode.PacketTooLarge, (await client.ExpectAsync<DisconnectPacket>()).ReasonCode);
        await client.ExpectClosedAsync();
    }

    // [MQTT-3.1.4-1] a CONNECT not in the format of section 3.1 closes the connection; [MQTT-3.2.2-6] Session Present 0;
    // [MQTT-3.2.2-7] closed after a CONNACK of 0x80 or more.
    [Fact]
    public async Task MalformedConnect_V5_GetsConnAckWithTheReasonCode_AndIsClosed()
    {
        await using var broker = TestBroker.Create();
        await using var client = new TestClient(broker, ProtocolVersion.V500);
        // CONNECT "MQTT" 5 with the reserved flag bit set [MQTT-3.1.2-3].
        await client.SendRawAsync([0x10, 0x0E, 0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x05, 0x03, 0x00, 0x3C, 0x00, 0x00, 0x01, (byte)'x']);
        var ack = await client.ExpectAsync<ConnAckPacket>();
        Assert.Equal(ReasonCode.MalformedPacket, ack.ReasonCode);
        Assert.False(ack.SessionPresent);
        await client.ExpectClosedAsync();
        Assert.Equal(0, broker.SessionCount);
    }

    private static async Task BystanderIsUnaffectedAsync(MqttBroker broker, TestClient bystander)
    {
        await using var pub = new TestClient(broker, bystander.Version);
        await pub.ConnectAsync("pub");
        await pub.PublishAndSettleAsync("wills/still", "here", QualityOfService.AtLeastOnce);
        Assert.Equal("here", Text.Of((await bystander.ExpectPublishAsync()).Payload));
        await bystander.ExpectNothingAsync();
    }
}
