using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Packets;
using Microsoft.Extensions.Time.Testing;

namespace Kirisame.Broker.Tests;

/// Connections and the broker's budget for packets still arriving (Broker:MaxPartialPacketBytes): a packet over
/// 64 KiB reserves its length before the rest is read and gives it back once handled or when its connection
/// closes; while the budget is full a connection waits unread and, after Broker:PartialPacketWaitTimeout, is
/// closed (MQTT 5: DISCONNECT 0x89 Server busy); small packets never wait. The budget always ends at zero.
public sealed class PartialPacketTests
{
    private const int PacketSize = 600_000;
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(10);

    private static MqttBroker CreateBroker(TimeProvider? time = null) => TestBroker.Create(o =>
    {
        o.MaximumPacketSize = 1024 * 1024;
        o.MaxPartialPacketBytes = 1024 * 1024; // room for one 600 000-byte packet, not two
        o.PartialPacketWaitTimeout = TimeSpan.FromSeconds(5);
    }, time);

    /// A QoS 0 PUBLISH to "big" of exactly <see cref="PacketSize"/> bytes, payload filled with <paramref name="fill"/>.
    private static byte[] LargePublish(ProtocolVersion version, byte fill)
    {
        var overhead = 1 + 3 + 2 + 3 + (version == ProtocolVersion.V500 ? 1 : 0); // fixed header, topic "big", property length
        var payload = new byte[PacketSize - overhead];
        Array.Fill(payload, fill);
        var bytes = MqttEncoder.Encode(new PublishMessagePacket(new PublishPacket { Topic = "big"u8.ToArray(), Payload = payload }), version);
        Assert.Equal(PacketSize, bytes.Length);
        return bytes;
    }

    [Fact]
    public async Task ALargePacket_HoldsItsLengthWhileArriving_AndGivesItBackOnceHandled()
    {
        await using var broker = CreateBroker();
        await using var subscriber = new TestClient(broker, ProtocolVersion.V311, "sub");
        await subscriber.ConnectAsync("sub");
        await subscriber.SubscribeAsync("big");
        await using var publisher = new TestClient(broker, ProtocolVersion.V311, "pub");
        await publisher.ConnectAsync("pub");
        var packet = LargePublish(ProtocolVersion.V311, 1);

        await publisher.SendRawAsync(packet[..1000]);
        await UntilAsync(() => broker.PartialPackets.Reserved == PacketSize, "the packet's length to be reserved");
        await publisher.SendRawAsync(packet[1000..]);

        var delivered = await subscriber.ExpectPublishAsync();
        Assert.Equal(packet.Length - 9, delivered.Payload.Length);
        await UntilAsync(() => broker.PartialPackets.Reserved == 0, "the reservation to be returned");
    }

    [Theory]
    [InlineData(ProtocolVersion.V500)]
    [InlineData(ProtocolVersion.V311)]
    public async Task WhenTheBudgetIsFull_AConnectionWaitsUnread_WhileSmallPacketsPass_AndIsClosedAfterTheTimeout(ProtocolVersion version)
    {
        var time = new FakeTimeProvider();
        await using var broker = CreateBroker(time);
        using var metrics = MetricsRecorder.For(broker);
        await using var subscriber = new TestClient(broker, ProtocolVersion.V311, "sub");
        await subscriber.ConnectAsync("sub");
        await subscriber.SubscribeAsync("#");
        await using var holder = new TestClient(broker, ProtocolVersion.V311, "holder");
        await holder.ConnectAsync("holder");
        await using var waiter = new TestClient(broker, version, "waiter");
        await waiter.ConnectAsync("waiter");
        var held = LargePublish(ProtocolVersion.V311, 1);
        var waiting = LargePublish(version, 2);

        await holder.SendRawAsync(held[..1000]);
        await UntilAsync(() => broker.PartialPackets.Reserved == PacketSize, "the holder's reservation");
        await waiter.SendRawAsync(waiting[..1000]);
        await UntilAsync(() => broker.PartialPackets.Waiting == 1, "the second large packet to wait");
        Assert.Equal(1, metrics.Value("kirisame.packets.partial.waiting"));

        // An ordinary client is not held up, although a reservation now would have to queue behind the waiter:
        // a packet of up to 64 KiB never reserves, even when it arrives in pieces.
        await using (var other = new TestClient(broker, ProtocolVersion.V500, "other"))
        {
            await other.ConnectAsync("other");
            var small = MqttEncoder.Encode(new PublishMessagePacket(new PublishPacket
            {
                Topic = "small"u8.ToArray(), Payload = new byte[60_000], QoS = QualityOfService.AtLeastOnce, PacketId = 1,
            }), ProtocolVersion.V500);
            await other.SendRawAsync(small[..100]);
            await other.SendRawAsync(small[100..]);
            Assert.Equal(PacketType.PubAck, (await other.ExpectAsync<PublishAckPacket>()).Type);
            Assert.Equal(60_000, (await subscriber.ExpectPublishAsync()).Payload.Length);
        }

        // (Fake) time passes: advanced in steps until the waiter gives up, since its timer starts a moment after
        // it was seen waiting. The bound is a real-time deadline.
        await UntilAsync(() =>
        {
            time.Advance(TimeSpan.FromSeconds(1));
            return waiter.ServerTask.IsCompleted;
        }, "the waiting connection to be closed");
        if (version == ProtocolVersion.V500)
        {
            var disconnect = await waiter.ExpectAsync<DisconnectPacket>();
            Assert.Equal(ReasonCode.ServerBusy, disconnect.ReasonCode);
        }

        await waiter.ExpectClosedAsync();
        Assert.Equal(1, broker.PartialPackets.TimedOut);
        Assert.Equal(1, metrics.Value("kirisame.packets.partial.timeouts"));
        Assert.Equal(PacketSize, metrics.Value("kirisame.packets.partial.bytes"));
        Assert.Equal(0, broker.PartialPackets.Waiting);

        // The holder was never in the way of anything but large packets: it finishes, and the budget is empty.
        await holder.SendRawAsync(held[1000..]);
        Assert.Equal(PacketSize - 9, (await subscriber.ExpectPublishAsync()).Payload.Length);
        await UntilAsync(() => broker.PartialPackets.Reserved == 0, "the holder's reservation to be returned");
    }

    [Fact]
    public async Task AWaiter_GetsItsTurn_WhenTheHolderFinishes()
    {
        await using var broker = CreateBroker();
        await using var subscriber = new TestClient(broker, ProtocolVersion.V311, "sub");
        await subscriber.ConnectAsync("sub");
        await subscriber.SubscribeAsync("big");
        await using var first = new TestClient(broker, ProtocolVersion.V311, "first");
        await first.ConnectAsync("first");
        await using var second = new TestClient(broker, ProtocolVersion.V311, "second");
        await second.ConnectAsync("second");
        var one = LargePublish(ProtocolVersion.V311, 1);

        await first.SendRawAsync(one[..1000]);
        await UntilAsync(() => broker.PartialPackets.Reserved == PacketSize, "the first reservation");
        var two = LargePublish(ProtocolVersion.V311, 2);
        await second.SendRawAsync(two[..1000]);
        await UntilAsync(() => broker.PartialPackets.Waiting == 1, "the second packet to wait");
        var sending = second.SendRawAsync(two[1000..]); // not awaited: the pipe holds the writer back until the broker reads

        await first.SendRawAsync(one[1000..]);
        Assert.Equal(1, (await subscriber.ExpectPublishAsync()).Payload.Span[0]);
        Assert.Equal(2, (await subscriber.ExpectPublishAsync()).Payload.Span[0]);
        await sending.WaitAsync(s_deadline);
        await UntilAsync(() => broker.PartialPackets.Reserved == 0, "both reservations to be returned");
    }

    /// A connection that closes mid-packet, holding or waiting, leaves nothing reserved; before CONNECT too (a
    /// large CONNECT). A close the broker asks for ends a wait at once; a client that just goes away while waiting
    /// is noticed when its turn to read comes (it is not read from until then).
    [Fact]
    public async Task ConnectionsThatCloseMidPacket_LeaveNothingReserved()
    {
        await using var broker = CreateBroker();
        await using var holder = new TestClient(broker, ProtocolVersion.V311, "holder");
        await holder.ConnectAsync("holder");
        await using var waiter = new TestClient(broker, ProtocolVersion.V311, "waiter");
        await waiter.ConnectAsync("waiter");
        await using var disconnected = new TestClient(broker, ProtocolVersion.V500, "disconnected");
        await disconnected.ConnectAsync("disconnected");
        await using var beforeConnect = new TestClient(broker, ProtocolVersion.V311, "anonymous");

        await holder.SendRawAsync(LargePublish(ProtocolVersion.V311, 1)[..1000]);
        await UntilAsync(() => broker.PartialPackets.Reserved == PacketSize, "the holder's reservation");
        await waiter.SendRawAsync(LargePublish(ProtocolVersion.V311, 2)[..1000]);
        await disconnected.SendRawAsync(LargePublish(ProtocolVersion.V500, 3)[..1000]);
        await beforeConnect.SendRawAsync([0x10, 0xDC, 0xDC, 0x2A, 0x00, 0x04]); // a CONNECT of 700 000 bytes, begun
        await UntilAsync(() => broker.PartialPackets.Waiting == 3, "the two PUBLISHes and the CONNECT to wait");

        Assert.True(broker.Admin.DisconnectClient("disconnected"));
        Assert.Equal(ReasonCode.AdministrativeAction, (await disconnected.ExpectAsync<DisconnectPacket>()).ReasonCode);
        await disconnected.ExpectClosedAsync();
        Assert.Equal(2, broker.PartialPackets.Waiting);

        await waiter.DropAsync();
        await beforeConnect.DropAsync();
        await holder.DropAsync();
        await UntilAsync(() => broker.PartialPackets.Reserved == 0 && broker.PartialPackets.Waiting == 0, "everything to be returned");
        await waiter.ServerTask.WaitAsync(s_deadline);
        await beforeConnect.ServerTask.WaitAsync(s_deadline);
        Assert.Equal(0, broker.PartialPackets.TimedOut);
    }

    [Fact]
    public void TheBudget_MustHoldOnePacketOfTheMaximumSize_OrBeOff()
    {
        Assert.Empty(new BrokerOptions().Validate());
        Assert.Empty(new BrokerOptions { MaxPartialPacketBytes = 0 }.Validate());
        Assert.Empty(new BrokerOptions { MaximumPacketSize = 1000, MaxPartialPacketBytes = 1000 }.Validate());
        Assert.Contains(new BrokerOptions { MaximumPacketSize = 1000, MaxPartialPacketBytes = 999 }.Validate(),
            e => e.StartsWith("Broker:MaxPartialPacketBytes must be 0 (no limit) or at least Broker:MaximumPacketSize (1000)", StringComparison.Ordinal));
        Assert.Contains(new BrokerOptions { PartialPacketWaitTimeout = TimeSpan.Zero }.Validate(),
            e => e.StartsWith("Broker:PartialPacketWaitTimeout must be positive", StringComparison.Ordinal));
    }

    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + s_deadline;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"Timed out after {s_deadline.TotalSeconds} s waiting for {what}.");
            await Task.Delay(10);
        }
    }
}
