using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Broker.Tests;

public sealed class SlowSubscriberTests
{
    [Fact]
    public async Task SubscriberThatNeverReads_DoesNotHoldUpThePublisherOrOthers_AndItsDropsAreCounted()
    {
        const int chunks = 20;
        const int perChunk = 50;
        await using var broker = TestBroker.Create(o => o.MaxQueuedMessages = 100);
        await using var slow = new TestClient(broker, ProtocolVersion.V311, "slow");
        await using var healthy = new TestClient(broker, ProtocolVersion.V311, "healthy");
        await using var pub = new TestClient(broker, ProtocolVersion.V311, "pub");
        await slow.ConnectAsync("slow");
        await healthy.ConnectAsync("healthy");
        await pub.ConnectAsync("pub");
        await slow.SubscribeAsync("flood");
        await healthy.SubscribeAsync("flood");

        // 1000 messages of 1 KB: the slow client's pipe (64 KB) and queue (100) fill long before the end.
        var payload = new string('x', 1000);
        for (var chunk = 0; chunk < chunks; chunk++)
        {
            for (var i = 0; i < perChunk; i++)
                await pub.PublishAsync("flood", payload);
            for (var i = 0; i < perChunk; i++)
                Assert.Equal(1000, (await healthy.ExpectPublishAsync()).Payload.Length);
        }

        // The publisher's own traffic is not held up either.
        Assert.Equal(ReasonCode.Success, await pub.PublishAndSettleAsync("elsewhere", "ack me", QualityOfService.AtLeastOnce));
        await healthy.ExpectNothingAsync();

        var dropped = Interlocked.Read(ref broker.Statistics.MessagesDropped);
        Assert.True(dropped > 0, "the slow subscriber should have had messages dropped");
        Assert.Equal(dropped, broker.FindSession("slow")!.DroppedMessages);
        Assert.Equal(0, broker.FindSession("healthy")!.DroppedMessages);

        // What was not dropped is still there, in a consistent state: reading now yields exactly the rest.
        var delivered = await slow.CollectPublishesAsync();
        Assert.Equal(chunks * perChunk, delivered.Count + dropped);
    }

    [Fact]
    public async Task OfflinePersistentSession_DropsTheOldestQoS1Messages_BeyondMaxQueuedMessages()
    {
        await using var broker = TestBroker.Create(o => o.MaxQueuedMessages = 5);
        await TestClient.LeaveOfflineSessionAsync(broker, "away", "q");

        await using var pub = new TestClient(broker, ProtocolVersion.V311);
        await pub.ConnectAsync("pub");
        for (var i = 0; i < 12; i++)
            await pub.PublishAndSettleAsync("q", "m" + i, QualityOfService.AtLeastOnce);
        Assert.Equal(7, broker.Statistics.MessagesDropped);
        Assert.Equal(7, broker.FindSession("away")!.DroppedMessages);

        await using var back = new TestClient(broker, ProtocolVersion.V311);
        Assert.True((await back.ConnectAsync("away", cleanStart: false)).SessionPresent);
        var received = await back.CollectPublishesAsync();
        Assert.Equal(["m7", "m8", "m9", "m10", "m11"], received.Select(p => Text.Of(p.Payload)));
    }
}
