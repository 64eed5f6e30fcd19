using System.Globalization;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Broker.Tests;

/// QoS 0 messages are pooled and reference counted; a buffer handed back too early would show up here as a
/// payload that does not match its topic and sequence number.
public sealed class PooledMessageIntegrityTests
{
    [Fact]
    public async Task ConcurrentPublishers_ManySubscribers_EveryPayloadArrivesIntact()
    {
        const int publishers = 4;
        const int perPublisher = 1500;
        await using var broker = new MqttBroker(new BrokerOptions { SysInterval = 0, MaxQueuedMessages = 1_000_000, MaxQueuedBytes = long.MaxValue });
        var subscribers = new List<TestClient>();
        for (var i = 0; i < 3; i++)
        {
            var sub = new TestClient(broker, i == 0 ? ProtocolVersion.V311 : ProtocolVersion.V500);
            await sub.ConnectAsync("sub" + i);
            await sub.SubscribeAsync("load/#");
            subscribers.Add(sub);
        }

        var receivers = subscribers.Select(sub => Task.Run(async () =>
        {
            var next = new int[publishers];
            for (var n = 0; n < publishers * perPublisher; n++)
            {
                var p = await sub.ExpectPublishAsync(TimeSpan.FromSeconds(30));
                var publisher = int.Parse(p.TopicString["load/".Length..], CultureInfo.InvariantCulture);
                var expected = Payload(publisher, next[publisher]++);
                Assert.Equal(expected, Text.Of(p.Payload));
            }
        })).ToList();

        var senders = Enumerable.Range(0, publishers).Select(i => Task.Run(async () =>
        {
            await using var pub = new TestClient(broker, ProtocolVersion.V311);
            await pub.ConnectAsync("pub" + i);
            for (var seq = 0; seq < perPublisher; seq++)
                await pub.PublishAsync("load/" + i.ToString(CultureInfo.InvariantCulture), Payload(i, seq));
            await pub.ExpectNothingAsync();
        })).ToList();

        await Task.WhenAll(senders);
        await Task.WhenAll(receivers);
        foreach (var sub in subscribers)
            await sub.DisposeAsync();
    }

    // Varying lengths, so buffers of different sizes are reused for one another.
    private static string Payload(int publisher, int seq)
        => $"{publisher}:{seq}:" + new string((char)('a' + (seq % 26)), seq % 300);
}
