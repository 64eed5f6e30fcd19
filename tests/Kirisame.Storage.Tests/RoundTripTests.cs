using Kirisame.Broker.Delivery;
using Kirisame.Broker.Routing;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;
using Kirisame.Storage.RocksDb;

namespace Kirisame.Storage.Tests;

public sealed class RoundTripTests
{
    private readonly Microsoft.Extensions.Time.Testing.FakeTimeProvider _time = Samples.Clock();

    [Fact]
    public async Task EverythingPut_IsLoadedBackAfterReopening()
    {
        using var folder = new TempFolder();
        var plain = Samples.Message(_time, "a/b", "hello", properties: true);
        var exactly = Samples.Message(_time, "x/y", "twice", QualityOfService.ExactlyOnce, sender: null);
        var retained = Samples.Message(_time, "r/1", "kept", QualityOfService.ExactlyOnce, retain: true, properties: true);
        var disconnectedAt = _time.GetTimestamp();
        await using (var store = Samples.Open(folder.Path, _time))
        {
            Assert.Empty(store.Load().Sessions);
            var session = new SessionRecord("c1", 3600)
            {
                DisconnectedAtTicks = disconnectedAt,
                PendingWill = new WillMessage
                {
                    Topic = "will/c1",
                    Payload = [9, 8],
                    QoS = QualityOfService.AtLeastOnce,
                    Retain = true,
                    Properties = new MqttProperties { WillDelayInterval = 30, ContentType = "bin", UserProperties = [new UserProperty("a", "b")] },
                },
                PendingWillAtTicks = disconnectedAt + 30 * _time.TimestampFrequency,
                PendingWillVersion = ProtocolVersion.V500,
            };
            store.PutSession(session);
            store.PutSubscription("c1", new SubscriptionRecord("a/+",
                new TopicSubscription("a/+", QualityOfService.ExactlyOnce, NoLocal: true, RetainAsPublished: true, RetainHandling.DoNotSend), 7));
            store.PutSubscription("c1", Samples.Subscription("$share/g/x/#"));
            store.PutSubscription("c1", Samples.Subscription("gone"));
            store.DeleteSubscription("c1", "gone");
            store.PutQueued("c1", new QueuedMessage(plain, QualityOfService.AtLeastOnce, false, [7], null, 1), 0, InflightState.AwaitingAck);
            store.PutQueued("c1", new QueuedMessage(exactly, QualityOfService.ExactlyOnce, true, [], new SharedGroup("g", "x/#"), 2), 0, InflightState.AwaitingAck);
            store.PutQueued("c1", new QueuedMessage(exactly, QualityOfService.ExactlyOnce, true, [], new SharedGroup("g", "x/#"), 2), 12, InflightState.AwaitingComp);
            store.PutInboundQoS2("c1", 300);
            store.PutInboundQoS2("c1", 301);
            store.DeleteInboundQoS2("c1", 301);
            store.PutRetained(retained);
            store.PutRetained(Samples.Message(_time, "r/2", "cleared", retain: true));
            store.DeleteRetained("r/2");
            await Samples.DurableAsync(store);
        }

        _time.Advance(TimeSpan.FromSeconds(10)); // "down" for 10 s
        await using (var store = Samples.Open(folder.Path, _time))
        {
            var state = store.Load();
            var session = Assert.Single(state.Sessions);
            Assert.Equal("c1", session.ClientId);
            Assert.Equal(3600u, session.ExpiryInterval);
            Assert.Equal(Samples.Epoch.ToUnixTimeMilliseconds(), session.DisconnectedAtUnixMs);
            Assert.Equal(Samples.Epoch.ToUnixTimeMilliseconds() + 30_000, session.PendingWillAtUnixMs);
            var will = session.PendingWill!;
            Assert.Equal(("will/c1", QualityOfService.AtLeastOnce, true), (will.Topic, will.QoS, will.Retain));
            Assert.Equal([9, 8], will.Payload);
            Assert.Equal(30u, will.Properties!.WillDelayInterval);
            Assert.Equal("bin", will.Properties.ContentType);
            Assert.Equal(ProtocolVersion.V500, session.PendingWillVersion);

            Assert.Equal(["$share/g/x/#", "a/+"], session.Subscriptions.Select(s => s.Filter).Order(StringComparer.Ordinal));
            var wildcard = session.Subscriptions.Single(s => s.Filter == "a/+");
            Assert.Equal(new TopicSubscription("a/+", QualityOfService.ExactlyOnce, true, true, RetainHandling.DoNotSend), wildcard.Options);
            Assert.Equal(7u, wildcard.SubscriptionId);

            // Start-up loads the entry in flight; the pending one stays on disk, counted, until it is read back.
            var (second, secondId, secondState) = Assert.Single(session.Queue);
            Assert.Equal((1, 1L, (long)plain.Size), (session.StoredPendingCount, session.StoredPendingFrom, session.StoredPendingBytes));
            var first = Assert.Single(await store.ReadQueuedAsync("c1", session.StoredPendingFrom, 10, long.MaxValue));
            Assert.Equal((1L, QualityOfService.AtLeastOnce, false), (first.Sequence, first.QoS, first.Retain));
            Assert.Equal([7u], first.SubscriptionIds);
            Assert.Null(first.Group);
            Assert.Equal("a/b", first.Message.Topic);
            Assert.Equal("hello", Samples.Text(first.Message.Payload));
            Assert.Equal("publisher", first.Message.SenderClientId);
            Assert.True(first.Message.Properties.ContentEquals(plain.Properties));
            // Message expiry counts the outage: 600 s interval, 10 s passed.
            Assert.Equal(590u, first.Message.RemainingExpiry(_time));

            Assert.Equal((2L, (ushort)12, InflightState.AwaitingComp, QualityOfService.ExactlyOnce, true), (second.Sequence, secondId, secondState, second.QoS, second.Retain));
            Assert.Equal(("g", "x/#"), (second.Group!.Name, second.Group.TopicFilter));
            Assert.Null(second.Message.SenderClientId);
            Assert.Equal(2, session.LastSequence);
            Assert.Equal([(ushort)300], session.InboundQoS2);

            var kept = Assert.Single(state.Retained);
            Assert.Equal(("r/1", "kept", QualityOfService.ExactlyOnce, true), (kept.Topic, Samples.Text(kept.Payload), kept.QoS, kept.Retain));
            Assert.True(kept.Properties.ContentEquals(retained.Properties));
        }
    }

    [Fact]
    public async Task MessageBody_IsStoredOnce_AndDeletedWithItsLastQueueEntry()
    {
        using var folder = new TempFolder();
        var message = Samples.Message(_time, "t", "shared by three");
        await using (var store = Samples.Open(folder.Path, _time))
        {
            store.Load();
            foreach (var client in new[] { "a", "b", "c" })
            {
                store.PutSession(new SessionRecord(client, 60));
                store.PutQueued(client, new QueuedMessage(message, QualityOfService.AtLeastOnce, false, [], null, 1), 0, InflightState.AwaitingAck);
            }

            await Samples.DurableAsync(store);
        }

        Assert.Equal(1, Samples.CountKeys(folder.Path)[(byte)KeySpace.Body]);

        await using (var store = Samples.Open(folder.Path, _time))
        {
            var state = store.Load();
            Assert.All(state.Sessions, s => Assert.Equal(1, s.StoredPendingCount));
            // One body: the three queues read it back as the same stored message.
            var read = new List<QueuedMessage>();
            foreach (var client in new[] { "a", "b", "c" })
                read.Add(Assert.Single(await store.ReadQueuedAsync(client, 0, 10, long.MaxValue)));
            Assert.Single(read.Select(q => Samples.BodyOf(q.Message)).Distinct());
            store.DeleteQueued("a", 1, read[0].Message);
            store.DeleteSession("b");
            await Samples.DurableAsync(store);
        }

        Assert.Equal(1, Samples.CountKeys(folder.Path)[(byte)KeySpace.Body]);

        await using (var store = Samples.Open(folder.Path, _time))
        {
            store.Load();
            var c = Assert.Single(await store.ReadQueuedAsync("c", 0, 10, long.MaxValue));
            Assert.Equal("shared by three", Samples.Text(c.Message.Payload));
            store.DeleteQueued("c", 1, c.Message);
            await Samples.DurableAsync(store);
        }

        Assert.False(Samples.CountKeys(folder.Path).ContainsKey((byte)KeySpace.Body));
    }

    [Fact]
    public async Task DeleteSession_LeavesNothingOfIt()
    {
        using var folder = new TempFolder();
        await using (var store = Samples.Open(folder.Path, _time))
        {
            store.Load();
            var session = new SessionRecord("gone", 60);
            store.PutSession(session);
            store.PutSubscription("gone", Samples.Subscription("a/#", id: 3));
            for (var i = 1; i <= 50; i++)
                store.PutQueued("gone", new QueuedMessage(Samples.Message(_time, "a/" + i, "m"), QualityOfService.AtLeastOnce, false, [], null, i), (ushort)(i % 3), InflightState.AwaitingAck);
            for (var i = 1; i <= 10; i++)
                store.DeleteQueued("gone", i, Samples.Message(_time, "unused", ""));
            store.PutInboundQoS2("gone", 5);
            store.PutSession(new SessionRecord("kept", 60));
            // "gone" is a prefix of "gone2": the range must not spill over.
            store.PutSession(new SessionRecord("gone2", 60));
            await Samples.DurableAsync(store);
            store.DeleteSession("gone");
            await Samples.DurableAsync(store);
        }

        var counts = Samples.CountKeys(folder.Path);
        Assert.Equal(2, counts[(byte)KeySpace.Session]);
        Assert.False(counts.ContainsKey((byte)KeySpace.Body));
        await using (var store = Samples.Open(folder.Path, _time))
            Assert.Equal(["gone2", "kept"], store.Load().Sessions.Select(s => s.ClientId).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task QueueRestartedBelowItsHead_IsStillLoaded()
    {
        // If numbering ever restarts below the stored head, the head moves down with the first entry (and the
        // numbering goes on from there).
        using var folder = new TempFolder();
        await using (var store = Samples.Open(folder.Path, _time))
        {
            store.Load();
            store.PutSession(new SessionRecord("s", 60));
            var message = Samples.Message(_time, "t", "m");
            for (var i = 100; i < 110; i++)
                store.PutQueued("s", new QueuedMessage(message, QualityOfService.AtLeastOnce, false, [], null, i), 0, InflightState.AwaitingAck);
            for (var i = 100; i < 110; i++)
                store.DeleteQueued("s", i, message);
            await Samples.DurableAsync(store);
            store.PutQueued("s", new QueuedMessage(message, QualityOfService.AtLeastOnce, false, [], null, 1), 0, InflightState.AwaitingAck);
            await Samples.DurableAsync(store);
        }

        await using (var store = Samples.Open(folder.Path, _time))
        {
            var session = Assert.Single(store.Load().Sessions);
            Assert.Equal((1, 1L), (session.StoredPendingCount, session.StoredPendingFrom));
            Assert.Equal(1, Assert.Single(await store.ReadQueuedAsync("s", session.StoredPendingFrom, 10, long.MaxValue)).Sequence);
            Assert.Equal(1, session.LastSequence);
        }
    }
}
