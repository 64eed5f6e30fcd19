using Kirisame.Broker.Delivery;
using Kirisame.Broker.Routing;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;
using Kirisame.Storage.RocksDb;

namespace Kirisame.Storage.Tests;

/// Everything written to disk, pinned: enum values, key layouts and value layouts as golden bytes. A failure
/// here means data folders written by earlier builds would be misread — add a new record version (and keep
/// reading the old one) instead of changing these bytes.
public sealed class StableFormatTests
{
    private static readonly Microsoft.Extensions.Time.Testing.FakeTimeProvider s_time = Samples.Clock();

    [Fact]
    public void PersistedEnums_KeepTheirValues()
    {
        Assert.Equal([0x00, 0x01, 0x02, 0x03], Enum.GetValues<KeySpace>().Select(v => (int)v));
        Assert.Equal([0x01, 0x02, 0x03, 0x04, 0x05], Enum.GetValues<SessionKeyKind>().Select(v => (int)v));
        Assert.Equal([0, 1], Enum.GetValues<InflightState>().Select(v => (int)v));
        Assert.Equal([0, 1, 2], Enum.GetValues<QualityOfService>().Select(v => (int)v));
        Assert.Equal([0, 1, 2], Enum.GetValues<RetainHandling>().Select(v => (int)v));
        Assert.Equal([0, 3, 4, 5], Enum.GetValues<ProtocolVersion>().Select(v => (int)v));
        Assert.Equal(2u, StorageFormat.DataFormatVersion);
        Assert.Equal(1u, StorageFormat.OldestDataFormatVersion);
        Assert.Equal(1, StorageFormat.RecordVersion);
        Assert.Equal(2, StorageFormat.QueueEntryVersion);
    }

    public static TheoryData<string, string> Keys() => new()
    {
        { "format", Hex(StorageKeys.Format) },
        { "session meta", Hex(StorageKeys.SessionMeta("c1")) },
        { "subscription", Hex(StorageKeys.Subscription("c1", "a/+")) },
        { "queue head", Hex(StorageKeys.QueueHead("c1")) },
        { "queue entry", Hex(StorageKeys.QueueEntry(StorageKeys.SessionPrefix("c1"), 258)) },
        { "inbound qos2", Hex(StorageKeys.InboundQoS2("c1", 300)) },
        { "retained", Hex(StorageKeys.Retained("r/1")) },
        { "body", Hex(StorageKeys.Body(5)) },
    };

    private static readonly Dictionary<string, string> s_goldenKeys = new()
    {
        ["format"] = "00666F726D6174",
        ["session meta"] = "0100026331" + "01",
        ["subscription"] = "0100026331" + "02" + "612F2B",
        ["queue head"] = "0100026331" + "03",
        ["queue entry"] = "0100026331" + "04" + "0000000000000102",
        ["inbound qos2"] = "0100026331" + "05" + "012C",
        ["retained"] = "02" + "722F31",
        ["body"] = "03" + "0000000000000005",
    };

    [Theory]
    [MemberData(nameof(Keys))]
    public void KeyLayout_IsPinned(string name, string actual) => Assert.Equal(s_goldenKeys[name], actual);

    private static string Hex(byte[] bytes) => Convert.ToHexString(bytes);

    private static readonly Dictionary<string, string> s_goldenValues = new()
    {
        ["format"] = "4B49524953414D45" + "00000002",
        ["format 1"] = "4B49524953414D45" + "00000001",
        ["message"] = "01" + "09" + "0000018BCFE56800" + "0003612F62" + "0009" + "7075626C6973686572"
            + "00000035" + "0101" + "0200000258" + "03000A746578742F706C61696E" + "08000A7265706C792F68657265" + "090003010203"
            + "2600016B000176" + "2600016B000177" + "00000005" + "68656C6C6F",
        ["message minimal"] = "01" + "04" + "0000018BCFE56800" + "0003722F31" + "00000000" + "00000000",
        ["queue entry"] = "02" + "0000000000000005" + "02" + "03" + "000C" + "01" + "00000400" + "0002" + "00000007" + "00000009" + "0001" + "67" + "0003" + "782F23",
        ["queue entry plain"] = "02" + "0000000000000006" + "01" + "00" + "0000" + "00" + "00000005" + "0000",
        // Record version 1 (data format 1), still read: no message size.
        ["queue entry 1"] = "01" + "0000000000000005" + "02" + "03" + "000C" + "01" + "0002" + "00000007" + "00000009" + "0001" + "67" + "0003" + "782F23",
        ["queue entry plain 1"] = "01" + "0000000000000006" + "01" + "00" + "0000" + "00" + "0000",
        ["subscription"] = "01" + "2E" + "00000007",
        ["session"] = "01" + "00000E10" + "0000018BCFE56800" + "00",
        ["session with will"] = "01" + "00000E10" + "0000018BCFE56800" + "17" + "05" + "0000018BCFE5DD30" + "0007" + "77696C6C2F6331"
            + "00000002" + "0908" + "0000001E" + "0000000D" + "03000362696E" + "26000161000162",
        ["queue head"] = "01" + "0000000000000102",
        ["inbound qos2"] = "01",
    };

    public static TheoryData<string> ValueNames() => [.. s_goldenValues.Keys];

    [Theory]
    [MemberData(nameof(ValueNames))]
    public void ValueLayout_IsPinned_AndReadsBack(string name)
    {
        var golden = Convert.FromHexString(s_goldenValues[name]);
        byte[] encoded;
        byte[] reencoded;
        switch (name)
        {
            case "format":
                encoded = StorageFormat.EncodeFormat();
                reencoded = StorageFormat.DecodeFormat(golden) == 2 ? golden : [];
                break;
            case "format 1":
                // Written by earlier builds; read (and then rewritten as format 2 by RocksDbStore.Open).
                encoded = StorageFormat.DecodeFormat(golden) == 1 ? golden : [];
                reencoded = golden;
                break;
            case "message":
            case "message minimal":
                var message = name == "message"
                    ? Samples.Message(s_time, "a/b", "hello", QualityOfService.AtLeastOnce, properties: true)
                    : Samples.Message(s_time, "r/1", "", QualityOfService.AtMostOnce, retain: true, sender: null) is var m ? m : null!;
                var now = s_time.GetUtcNow().ToUnixTimeMilliseconds();
                encoded = StorageFormat.EncodeMessage(message, now);
                reencoded = StorageFormat.EncodeMessage(StorageFormat.DecodeMessage(golden, s_time), now);
                break;
            case "queue entry":
                encoded = StorageFormat.EncodeQueueEntry(5, 1024, QualityOfService.ExactlyOnce, true, [7, 9], new SharedGroup("g", "x/#"), 12, InflightState.AwaitingComp);
                var e = StorageFormat.DecodeQueueEntry(golden);
                reencoded = StorageFormat.EncodeQueueEntry(e.BodyId, e.Size, e.QoS, e.Retain, e.SubscriptionIds, new SharedGroup(e.GroupName!, e.GroupFilter!), e.PacketId, e.State);
                break;
            case "queue entry plain":
                encoded = StorageFormat.EncodeQueueEntry(6, 5, QualityOfService.AtLeastOnce, false, [], null, 0, InflightState.AwaitingAck);
                var p = StorageFormat.DecodeQueueEntry(golden);
                reencoded = StorageFormat.EncodeQueueEntry(p.BodyId, p.Size, p.QoS, p.Retain, p.SubscriptionIds, null, p.PacketId, p.State);
                break;
            case "queue entry 1":
            case "queue entry plain 1":
                // Only read now: the same fields as version 2, the size unknown (−1).
                var old = StorageFormat.DecodeQueueEntry(golden);
                var current = StorageFormat.DecodeQueueEntry(Convert.FromHexString(s_goldenValues[name[..^2]]));
                Assert.Equal(-1, old.Size);
                Assert.Equal((current.BodyId, current.QoS, current.Retain, current.GroupName, current.GroupFilter, current.PacketId, current.State),
                    (old.BodyId, old.QoS, old.Retain, old.GroupName, old.GroupFilter, old.PacketId, old.State));
                Assert.Equal(current.SubscriptionIds, old.SubscriptionIds);
                encoded = reencoded = golden;
                break;
            case "subscription":
                var options = new TopicSubscription("a/+", QualityOfService.ExactlyOnce, NoLocal: true, RetainAsPublished: true, RetainHandling.DoNotSend);
                encoded = StorageFormat.EncodeSubscription(options, 7);
                var (o, id) = StorageFormat.DecodeSubscription("a/+", golden);
                reencoded = StorageFormat.EncodeSubscription(o, id);
                break;
            case "session":
                encoded = StorageFormat.EncodeSession(3600, Samples.Epoch.ToUnixTimeMilliseconds(), null, ProtocolVersion.V500, 0);
                var s = StorageFormat.DecodeSession(golden);
                reencoded = StorageFormat.EncodeSession(s.Expiry, s.DisconnectedAtUnixMs, s.Will, s.WillVersion, s.WillAtUnixMs);
                break;
            case "session with will":
                var will = new WillMessage
                {
                    Topic = "will/c1",
                    Payload = [9, 8],
                    QoS = QualityOfService.AtLeastOnce,
                    Retain = true,
                    Properties = new MqttProperties { WillDelayInterval = 30, ContentType = "bin", UserProperties = [new UserProperty("a", "b")] },
                };
                var at = Samples.Epoch.ToUnixTimeMilliseconds();
                encoded = StorageFormat.EncodeSession(3600, at, will, ProtocolVersion.V500, at + 30_000);
                var w = StorageFormat.DecodeSession(golden);
                reencoded = StorageFormat.EncodeSession(w.Expiry, w.DisconnectedAtUnixMs, w.Will, w.WillVersion, w.WillAtUnixMs);
                break;
            case "queue head":
                encoded = StorageFormat.EncodeQueueHead(258);
                reencoded = StorageFormat.EncodeQueueHead(StorageFormat.DecodeQueueHead(golden));
                break;
            default:
                encoded = StorageFormat.InboundQoS2Value;
                StorageFormat.CheckInboundQoS2(golden);
                reencoded = golden;
                break;
        }

        Assert.Equal(s_goldenValues[name], Hex(encoded));
        Assert.Equal(s_goldenValues[name], Hex(reencoded));
    }

    [Fact]
    public void UnknownRecordVersion_IsRefused()
    {
        var golden = Convert.FromHexString(s_goldenValues["queue head"]);
        golden[0] = 2;
        Assert.Throws<StoreFormatException>(() => StorageFormat.DecodeQueueHead(golden));
        var message = Convert.FromHexString(s_goldenValues["message minimal"]);
        message[0] = 2;
        Assert.Throws<StoreFormatException>(() => StorageFormat.DecodeMessage(message, s_time));
        Assert.Throws<StoreFormatException>(() => StorageFormat.DecodeMessage(message[..5], s_time));
        var entry = Convert.FromHexString(s_goldenValues["queue entry"]);
        entry[0] = 3;
        Assert.Throws<StoreFormatException>(() => StorageFormat.DecodeQueueEntry(entry));
    }

    [Fact]
    public void MessageSize_IsReadFromAStoredMessage_WithoutDecodingIt()
    {
        Assert.Equal(3 + 5, StorageFormat.MessageSize(Convert.FromHexString(s_goldenValues["message"])));
        Assert.Equal(3, StorageFormat.MessageSize(Convert.FromHexString(s_goldenValues["message minimal"])));
    }
}
