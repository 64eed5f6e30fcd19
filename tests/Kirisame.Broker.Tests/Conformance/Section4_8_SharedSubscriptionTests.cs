using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;

namespace Kirisame.Broker.Tests.Conformance;

/// MQTT 5.0 section 4.8.2, shared subscriptions: what happens to a message once one member has it.
public sealed class Section4_8_SharedSubscriptionTests
{
    private const ProtocolVersion V5 = ProtocolVersion.V500;

    private static MqttProperties Expiry(uint seconds) => new() { SessionExpiryInterval = seconds };

    // [MQTT-4.8.2-3] the member receives at most the QoS granted to its subscription.
    [Fact]
    public async Task Member_ReceivesAtItsGrantedQoS()
    {
        await using var broker = TestBroker.Create();
        await using var member = new TestClient(broker, V5);
        await member.ConnectAsync("member");
        Assert.Equal([ReasonCode.GrantedQoS0], (await member.SubscribeAsync("$share/g/t", QualityOfService.AtMostOnce)).ReasonCodes);
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        await pub.PublishAndSettleAsync("t", "x", QualityOfService.ExactlyOnce);
        Assert.Equal(QualityOfService.AtMostOnce, (await member.ExpectPublishAsync()).QoS);
    }

    // [MQTT-4.8.2-4] a QoS 2 message sent to a member that drops is completed with that member when it reconnects,
    // not given to another member.
    [Fact]
    public async Task QoS2InFlight_StaysWithItsMember_AndIsCompletedOnReconnect()
    {
        await using var broker = TestBroker.Create();
        var (holder, other) = await TwoMembersAndOneQoS2MessageAsync(broker, expiry: 600);
        await holder.Client.DropAsync();
        await holder.Client.ExpectClosedAsync();
        await holder.Client.DisposeAsync();
        await other.ExpectNothingAsync();

        await using var back = new TestClient(broker, V5);
        Assert.True((await back.ConnectAsync(holder.Id, cleanStart: false, properties: Expiry(600))).SessionPresent);
        var resent = await back.ExpectPublishAsync();
        Assert.Equal(("job", true), (Text.Of(resent.Payload), resent.Dup));
        await other.ExpectNothingAsync();
        await other.DisposeAsync();
    }

    // [MQTT-4.8.2-5] if that member's session ends instead, no other member gets the message.
    [Fact]
    public async Task QoS2InFlight_OfAMemberWhoseSessionEnds_GoesToNobodyElse()
    {
        await using var broker = TestBroker.Create();
        var (holder, other) = await TwoMembersAndOneQoS2MessageAsync(broker, expiry: 0);
        await holder.Client.DropAsync();
        await holder.Client.ExpectClosedAsync();
        await holder.Client.DisposeAsync();
        Assert.Equal(1, broker.SessionCount); // only the other member's is left
        await other.ExpectNothingAsync();
        await other.DisposeAsync();
    }

    // [MQTT-4.8.2-6] a member's PUBACK of 0x80 or more discards the message: no other member gets it.
    [Fact]
    public async Task RefusedByAMember_IsNotOfferedToAnother()
    {
        await using var broker = TestBroker.Create();
        await using var a = new TestClient(broker, V5);
        await a.ConnectAsync("a");
        await a.SubscribeAsync("$share/g/t", QualityOfService.AtLeastOnce);
        await using var b = new TestClient(broker, V5);
        await b.ConnectAsync("b");
        await b.SubscribeAsync("$share/g/t", QualityOfService.AtLeastOnce);
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        await pub.PublishAndSettleAsync("t", "unwanted", QualityOfService.AtLeastOnce);

        var gotA = await a.CollectPublishesAsync();
        var (refuser, other) = gotA.Count == 1 ? (a, b) : (b, a);
        var message = gotA.Count == 1 ? gotA[0] : Assert.Single(await b.CollectPublishesAsync());
        await refuser.SendAsync(new PublishAckPacket(PacketType.PubAck, message.PacketId, ReasonCode.UnspecifiedError));
        await refuser.DisconnectAsync();
        await other.ExpectNothingAsync();
    }

    private static async Task<((TestClient Client, string Id) Holder, TestClient Other)> TwoMembersAndOneQoS2MessageAsync(MqttBroker broker, uint expiry)
    {
        var a = new TestClient(broker, V5);
        await a.ConnectAsync("a", cleanStart: false, properties: Expiry(expiry));
        await a.SubscribeAsync("$share/g/jobs", QualityOfService.ExactlyOnce);
        var b = new TestClient(broker, V5);
        await b.ConnectAsync("b", cleanStart: false, properties: Expiry(expiry));
        await b.SubscribeAsync("$share/g/jobs", QualityOfService.ExactlyOnce);
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        await pub.PublishAndSettleAsync("jobs", "job", QualityOfService.ExactlyOnce);

        var gotA = await a.CollectPublishesAsync();
        if (gotA.Count == 1)
            return ((a, "a"), b);
        Assert.Single(await b.CollectPublishesAsync());
        return ((b, "b"), a);
    }
}
