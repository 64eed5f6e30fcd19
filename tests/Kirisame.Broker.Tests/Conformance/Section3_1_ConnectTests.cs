using Kirisame.Broker.Security;
using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;
using Microsoft.Extensions.Time.Testing;

namespace Kirisame.Broker.Tests.Conformance;

/// MQTT 5.0 sections 3.1 (CONNECT), 3.2 (CONNACK) and 4.1 (session state): one statement or a close group per test.
public sealed class Section3_1_ConnectTests
{
    private const ProtocolVersion V5 = ProtocolVersion.V500;

    // [MQTT-3.1.3-5] 1 to 23 bytes of 0-9, a-z, A-Z are always allowed.
    [Theory]
    [InlineData("a")]
    [InlineData("0123456789abcdefghijklm")]
    [InlineData("nopqrstuvwxyzABCDEFGHIJ")]
    [InlineData("KLMNOPQRSTUVWXYZ")]
    public async Task ClientIdOfOneTo23AlphanumericCharacters_IsAccepted(string clientId)
    {
        await using var broker = TestBroker.Create();
        await using var client = new TestClient(broker, V5);
        var ack = await client.ConnectAsync(clientId);
        Assert.Equal(ReasonCode.Success, ack.ReasonCode);
        Assert.Null(ack.Properties?.AssignedClientIdentifier);
    }

    // [MQTT-3.1.4-5] CONNACK 0x00; [MQTT-3.2.0-1] before any other packet (here a queued message of the resumed
    // session); [MQTT-3.2.0-2] never a second CONNACK, even for a second CONNECT.
    [Fact]
    public async Task ConnAckSuccess_ComesFirst_AndOnlyOnce()
    {
        await using var broker = TestBroker.Create();
        var offline = new TestClient(broker, V5);
        await offline.ConnectAsync("c", cleanStart: false, properties: new MqttProperties { SessionExpiryInterval = 60 });
        await offline.SubscribeAsync("q", QualityOfService.AtLeastOnce);
        await offline.DisconnectAsync();
        await offline.DisposeAsync();
        await using var publisher = new TestClient(broker, V5);
        await publisher.ConnectAsync("p");
        await publisher.PublishAndSettleAsync("q", "waiting", QualityOfService.AtLeastOnce);

        await using var client = new TestClient(broker, V5);
        var ack = await client.ConnectAsync("c", cleanStart: false, properties: new MqttProperties { SessionExpiryInterval = 60 });
        Assert.Equal(ReasonCode.Success, ack.ReasonCode);
        Assert.Equal("waiting", Text.Of((await client.ExpectPublishAsync()).Payload));

        await client.SendAsync(new ConnectPacket { ProtocolVersion = V5, ClientId = "c" });
        Assert.IsType<DisconnectPacket>(await client.ReceiveAsync());
        Assert.Null(await client.ReceiveAsync());
    }

    // [MQTT-3.1.4-6] after a refused CONNECT nothing the client sent is processed; [MQTT-3.14.0-1] and no DISCONNECT
    // is sent, since no CONNACK below 0x80 was.
    [Fact]
    public async Task RefusedConnect_LaterPacketsAreNotProcessed_AndNoDisconnectIsSent()
    {
        await using var broker = TestBroker.Create(authenticator: new Refuse(ReasonCode.NotAuthorized));
        await using var client = new TestClient(broker, V5);
        var connect = MqttEncoder.Encode(new ConnectPacket { ProtocolVersion = V5, ClientId = "refused" }, V5);
        var publish = MqttEncoder.Encode(new PublishMessagePacket(new PublishPacket
        {
            Topic = "r"u8.ToArray(),
            Payload = "sneaked in"u8.ToArray(),
            Retain = true,
        }), V5);
        await client.SendRawAsync([.. connect, .. publish]);

        Assert.Equal(ReasonCode.NotAuthorized, (await client.ExpectAsync<ConnAckPacket>()).ReasonCode);
        Assert.Null(await client.ReceiveAsync());
        await client.ExpectClosedAsync();
        Assert.Equal(0, broker.Retained.Count);
    }

    // [MQTT-3.2.2-12] a Will QoS above the Maximum QoS is refused with 0x9B and the connection closed.
    [Fact]
    public async Task WillQoSAboveMaximumQoS_IsRefusedWith0x9B()
    {
        await using var broker = TestBroker.Create(o => o.MaximumQoS = 1);
        await using var client = new TestClient(broker, V5);
        var will = new WillMessage { Topic = "w", Payload = "x"u8.ToArray(), QoS = QualityOfService.ExactlyOnce };
        var ack = await client.ConnectAsync("c", will: will);
        Assert.Equal(ReasonCode.QoSNotSupported, ack.ReasonCode);
        await client.ExpectClosedAsync();
        Assert.Equal(0, broker.SessionCount);
    }

    // [MQTT-3.2.2-13] a retained will while retain is not available is refused with 0x9A and the connection closed.
    [Fact]
    public async Task RetainedWillWithoutRetainAvailable_IsRefusedWith0x9A()
    {
        await using var broker = TestBroker.Create(o => o.RetainAvailable = false);
        await using var client = new TestClient(broker, V5);
        var will = new WillMessage { Topic = "w", Payload = "x"u8.ToArray(), Retain = true };
        var ack = await client.ConnectAsync("c", will: will);
        Assert.Equal(ReasonCode.RetainNotSupported, ack.ReasonCode);
        await client.ExpectClosedAsync();
        Assert.Equal(0, broker.SessionCount);
    }

    // [MQTT-3.1.2-28] Request Response Information 0 (or absent): no Response Information, even when configured.
    [Theory]
    [InlineData(null)]
    [InlineData((byte)0)]
    public async Task RequestResponseInformationZero_GetsNoResponseInformation(byte? request)
    {
        await using var broker = TestBroker.Create(o => o.ResponseInformationPrefix = "reply/");
        await using var client = new TestClient(broker, V5);
        var ack = await client.ConnectAsync("c", properties: new MqttProperties { RequestResponseInformation = request });
        Assert.Equal(ReasonCode.Success, ack.ReasonCode);
        Assert.Null(ack.Properties?.ResponseInformation);
    }

    // [MQTT-3.1.3-10] the will's User Properties keep their order.
    [Fact]
    public async Task WillUserProperties_KeepTheirOrder()
    {
        await using var broker = TestBroker.Create();
        await using var watcher = new TestClient(broker, V5);
        await watcher.ConnectAsync("watcher");
        await watcher.SubscribeAsync("w");
        UserProperty[] sent = [new("z", "1"), new("a", "2"), new("z", "3"), new("m", "4")];
        var will = new WillMessage { Topic = "w", Payload = "bye"u8.ToArray(), Properties = new MqttProperties { UserProperties = [.. sent] } };
        await using var dying = new TestClient(broker, V5);
        await dying.ConnectAsync("dying", will: will);
        await dying.DropAsync();
        await dying.ExpectClosedAsync();

        var p = await watcher.ExpectPublishAsync();
        Assert.Equal(sent, p.Properties.ToMqttProperties().UserProperties);
    }

    // [MQTT-4.1.0-1] the session is not discarded while its connection is open, however long past its expiry interval.
    [Fact]
    public async Task SessionState_IsKeptWhileTheConnectionIsOpen()
    {
        var time = new FakeTimeProvider();
        await using var broker = TestBroker.Create(time: time);
        await using var client = new TestClient(broker, V5);
        await client.ConnectAsync("c", properties: new MqttProperties { SessionExpiryInterval = 5 });
        await client.SubscribeAsync("t");
        time.Advance(TimeSpan.FromHours(2));
        broker.Housekeep();

        Assert.Equal(1, broker.SessionCount);
        await using var publisher = new TestClient(broker, V5);
        await publisher.ConnectAsync("p");
        await publisher.PublishAndSettleAsync("t", "still here");
        Assert.Equal("still here", Text.Of((await client.ExpectPublishAsync()).Payload));
    }

    // [MQTT-3.1.2-23] the session outlives the connection while the expiry interval runs; [MQTT-4.1.0-2] and is
    // discarded when it has passed (here set at DISCONNECT).
    [Fact]
    public async Task SessionExpirySetAtDisconnect_KeepsThenDiscardsTheSession()
    {
        var time = new FakeTimeProvider();
        await using var broker = TestBroker.Create(time: time);
        var client = new TestClient(broker, V5);
        await client.ConnectAsync("c", cleanStart: false, properties: new MqttProperties { SessionExpiryInterval = 60 });
        await client.SubscribeAsync("t");
        await client.DisconnectAsync(new DisconnectPacket { Properties = new MqttProperties { SessionExpiryInterval = 10 } });
        await client.DisposeAsync();

        time.Advance(TimeSpan.FromSeconds(9));
        broker.Housekeep();
        Assert.Equal(1, broker.SessionCount);
        time.Advance(TimeSpan.FromSeconds(2));
        broker.Housekeep();
        Assert.Equal(0, broker.SessionCount);
    }

    private sealed class Refuse(ReasonCode verdict) : IAuthenticator
    {
        public ValueTask<ReasonCode> AuthenticateAsync(ConnectContext context, CancellationToken cancellationToken) => ValueTask.FromResult(verdict);
    }
}
