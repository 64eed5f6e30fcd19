using System.Globalization;
using System.Text;
using Kirisame.Broker.Clients;
using Kirisame.Broker.Diagnostics;
using Kirisame.Protocol;

namespace Kirisame.Broker.Tests;

/// Ingest back-pressure (issue 13, docs/adr/0009): a subscriber that keeps up is never dropped, however far the
/// publisher runs ahead — the publisher waits instead; one that stops taking its messages is marked a slow consumer
/// after Broker:SlowConsumerTimeout, the publisher goes on, and only then do its queue limit and drops apply.
public sealed class BackPressureTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(20);

    private static Task<InProcessClient> ConnectAsync(MqttBroker broker, string clientId, ushort receiveMaximum = 65535) =>
        InProcessClient.ConnectAsync(broker, new InProcessClientOptions { ClientId = clientId, ReceiveMaximum = receiveMaximum });

    private static byte[] Bytes(int i) => Encoding.UTF8.GetBytes(i.ToString(CultureInfo.InvariantCulture));

    [Theory]
    [InlineData(QualityOfService.AtMostOnce)]
    [InlineData(QualityOfService.AtLeastOnce)]
    [InlineData(QualityOfService.ExactlyOnce)]
    public async Task SubscriberThatKeepsUp_GetsEverything_ThoughThePublisherRunsFarAheadOfTheQueueLimit(QualityOfService qos)
    {
        const int count = 3000;
        // A queue limit of 8 and a window of 4: a publisher in a tight loop is ahead of the reader within microseconds.
        await using var broker = TestBroker.Create(o => o.MaxQueuedMessages = 8);
        await using var subscriber = await ConnectAsync(broker, "reader", receiveMaximum: 4);
        await subscriber.SubscribeAsync("t", qos);
        await using var publisher = await ConnectAsync(broker, "publisher");

        var received = new List<int>();
        var reading = Task.Run(async () =>
        {
            using var cts = new CancellationTokenSource(s_timeout);
            await foreach (var message in subscriber.ReadAllAsync(cts.Token))
            {
                received.Add(int.Parse(Encoding.UTF8.GetString(message.Payload.Span), CultureInfo.InvariantCulture));
                if (received.Count == count)
                    break;
            }
        });
        for (var i = 0; i < count; i++)
            Assert.Equal(ReasonCode.Success, await publisher.PublishAsync("t", Bytes(i), qos));
        await reading.WaitAsync(s_timeout);

        Assert.Equal(Enumerable.Range(0, count), received);
        Assert.Equal(0, broker.Metrics.DroppedCount(DropReason.QueueFull));
        Assert.True(broker.BackPressure.Waits > 0, "the publisher never had to wait: the test did not run ahead of the reader");
        Assert.Equal(0, broker.BackPressure.SlowConsumers);
    }

    [Theory]
    [InlineData(QualityOfService.AtMostOnce)]
    [InlineData(QualityOfService.AtLeastOnce)]
    public async Task SubscriberThatStopsReading_IsASlowConsumer_ThePublisherGoesOn_AndItsDropsAreCounted(QualityOfService qos)
    {
        const int count = 200;
        await using var broker = TestBroker.Create(o =>
        {
            o.MaxQueuedMessages = 10;
            o.SlowConsumerTimeout = TimeSpan.FromMilliseconds(200);
        });
        await using var stalled = await ConnectAsync(broker, "stalled", receiveMaximum: 5);
        await stalled.SubscribeAsync("t", qos);
        await using var publisher = await ConnectAsync(broker, "publisher");

        // Nothing reads "stalled": the publisher waits one timeout for it, then no more.
        var publishing = Task.Run(async () =>
        {
            for (var i = 0; i < count; i++)
                await publisher.PublishAsync("t", Bytes(i), qos);
        });
        await publishing.WaitAsync(s_timeout);

        var session = broker.FindSession("stalled")!;
        Assert.Equal(1, broker.BackPressure.SlowConsumers);
        Assert.True(session.Slow);
        var dropped = session.DroppedFor(DropReason.QueueFull);
        Assert.True(dropped > 0, "nothing was dropped for a consumer that read nothing");

        // What was kept is consistent: reading now yields exactly the rest, in order, and the episode ends.
        var kept = new List<int>();
        while (kept.Count < count - dropped)
        {
            using var cts = new CancellationTokenSource(s_timeout);
            var message = await stalled.ReceiveAsync(cts.Token);
            kept.Add(int.Parse(Encoding.UTF8.GetString(message.Payload.Span), CultureInfo.InvariantCulture));
        }

        Assert.Equal(kept.Order(), kept);
        // The queue's overflow policy: QoS 1/2 drop the oldest queued (the newest is kept), QoS 0 the new one.
        if (qos == QualityOfService.AtMostOnce)
            Assert.Equal(0, kept[0]);
        else
            Assert.Equal(count - 1, kept[^1]);
        Assert.False(stalled.TryReceive(out _));
        Assert.False(session.Slow); // reading (and acknowledging) what was kept brought it down to low water
    }
}
