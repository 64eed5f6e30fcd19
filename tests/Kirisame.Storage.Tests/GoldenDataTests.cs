using System.Runtime.CompilerServices;
using Kirisame.Broker.Delivery;
using Kirisame.Broker.Routing;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;

namespace Kirisame.Storage.Tests;

/// golden/vN is a data folder written by this code at data format N and committed (v1: queue entries without
/// their message's size; v2: with it). Every later build must read each back the same. To write the current format
/// anew (only when adding a format version, into a new folder):
/// KIRISAME_WRITE_GOLDEN=1 dotnet test tests/Kirisame.Storage.Tests --filter GoldenData
public sealed class GoldenDataTests
{
    private const string Version = "v2";

    [Theory]
    [InlineData("v1")]
    [InlineData("v2")]
    public async Task GoldenFolder_IsReadBack(string version)
    {
        var source = Path.Combine(AppContext.BaseDirectory, "golden", version);
        Assert.True(File.Exists(Path.Combine(source, "CURRENT")), $"missing golden data folder {source}");
        using var folder = new TempFolder();
        foreach (var file in Directory.GetFiles(source))
            File.Copy(file, Path.Combine(folder.Path, Path.GetFileName(file)));
        var time = Samples.Clock();
        time.Advance(TimeSpan.FromMinutes(1));
        await using var store = Samples.Open(folder.Path, time);
        var state = store.Load();

        Assert.Equal(["golden-a", "golden-b"], state.Sessions.Select(s => s.ClientId));
        var a = state.Sessions[0];
        Assert.Equal(7200u, a.ExpiryInterval);
        Assert.Equal(Samples.Epoch.ToUnixTimeMilliseconds(), a.DisconnectedAtUnixMs);
        Assert.Equal(("last/words", QualityOfService.AtLeastOnce, 45u), (a.PendingWill!.Topic, a.PendingWill.QoS, a.PendingWill.Properties!.WillDelayInterval!.Value));
        Assert.Equal(["$share/grp/s/#", "t/+"], a.Subscriptions.Select(s => s.Filter));
        Assert.Equal((QualityOfService.ExactlyOnce, 11u), (a.Subscriptions[1].Options.MaximumQoS, a.Subscriptions[1].SubscriptionId));
        // Start-up loads what is in flight; pending entries (record version 1: no size, read from the body) are counted.
        var (inflight, packetId, inflightState) = Assert.Single(a.Queue);
        Assert.Equal((2L, (ushort)4, InflightState.AwaitingComp), (inflight.Sequence, packetId, inflightState));
        Assert.Equal("t/1", inflight.Message.Topic);
        Assert.Equal((1, 3L, 3 + 11L), (a.StoredPendingCount, a.StoredPendingFrom, a.StoredPendingBytes));
        var aPending = Assert.Single(await store.ReadQueuedAsync("golden-a", a.StoredPendingFrom, 10, long.MaxValue));
        Assert.Equal((3L, "grp"), (aPending.Sequence, aPending.Group!.Name));
        Assert.Equal([(ushort)77], a.InboundQoS2);

        var b = state.Sessions[1];
        Assert.Null(b.PendingWill);
        Assert.Empty(b.Queue);
        var bPending = Assert.Single(await store.ReadQueuedAsync("golden-b", 0, 10, long.MaxValue));
        // The message shared by both queues is one body.
        Assert.Equal(Samples.BodyOf(aPending.Message), Samples.BodyOf(bPending.Message));
        Assert.Equal("shared body", Samples.Text(bPending.Message.Payload));
        Assert.Equal(540u, bPending.Message.RemainingExpiry(time)); // 600 s, one minute gone

        Assert.Equal(["config/x", "status"], state.Retained.Select(m => m.Topic).Order(StringComparer.Ordinal));
        Assert.Equal("up", Samples.Text(state.Retained.Single(m => m.Topic == "status").Payload));
    }

    [Fact]
    public async Task GoldenFolder_Write()
    {
        if (Environment.GetEnvironmentVariable("KIRISAME_WRITE_GOLDEN") != "1")
            return;
        var target = Path.Combine(SourceFolder(), "golden", Version);
        if (Directory.Exists(target))
            Directory.Delete(target, recursive: true);
        var time = Samples.Clock();
        await using (var store = Samples.Open(target, time))
        {
            store.Load();
            var a = new SessionRecord("golden-a", 7200)
            {
                DisconnectedAtTicks = time.GetTimestamp(),
                PendingWill = new WillMessage
                {
                    Topic = "last/words",
                    Payload = "bye"u8.ToArray(),
                    QoS = QualityOfService.AtLeastOnce,
                    Properties = new MqttProperties { WillDelayInterval = 45 },
                },
                PendingWillAtTicks = time.GetTimestamp() + 45 * time.TimestampFrequency,
                PendingWillVersion = ProtocolVersion.V500,
            };
            store.PutSession(a);
            store.PutSubscription("golden-a", Samples.Subscription("t/+", QualityOfService.ExactlyOnce, 11));
            store.PutSubscription("golden-a", Samples.Subscription("$share/grp/s/#"));
            var first = Samples.Message(time, "t/0", "acknowledged");
            var second = Samples.Message(time, "t/1", "in flight", QualityOfService.ExactlyOnce);
            var shared = Samples.Message(time, "s/1", "shared body", properties: true);
            store.PutQueued("golden-a", new QueuedMessage(first, QualityOfService.AtLeastOnce, false, [11], null, 1), 3, InflightState.AwaitingAck);
            store.PutQueued("golden-a", new QueuedMessage(second, QualityOfService.ExactlyOnce, false, [11], null, 2), 4, InflightState.AwaitingAck);
            store.PutQueued("golden-a", new QueuedMessage(second, QualityOfService.ExactlyOnce, false, [11], null, 2), 4, InflightState.AwaitingComp);
            store.PutQueued("golden-a", new QueuedMessage(shared, QualityOfService.AtLeastOnce, false, [], new SharedGroup("grp", "s/#"), 3), 0, InflightState.AwaitingAck);
            store.DeleteQueued("golden-a", 1, first);
            store.PutInboundQoS2("golden-a", 77);
            var b = new SessionRecord("golden-b", uint.MaxValue);
            store.PutSession(b);
            store.PutSubscription("golden-b", Samples.Subscription("s/#"));
            store.PutQueued("golden-b", new QueuedMessage(shared, QualityOfService.AtLeastOnce, true, [], null, 1), 0, InflightState.AwaitingAck);
            store.PutRetained(Samples.Message(time, "status", "up", retain: true));
            store.PutRetained(Samples.Message(time, "config/x", "{}", QualityOfService.ExactlyOnce, retain: true, properties: true));
            await Samples.DurableAsync(store);
        }

        foreach (var file in Directory.GetFiles(target).Where(f => Path.GetFileName(f) is "LOCK" || Path.GetFileName(f).StartsWith("LOG", StringComparison.Ordinal)))
            File.Delete(file);
    }

    private static string SourceFolder([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
