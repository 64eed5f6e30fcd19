using System.Text;
using Kirisame.Broker.Delivery;
using Kirisame.Broker.Routing;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;
using Kirisame.Storage.RocksDb;
using Microsoft.Extensions.Time.Testing;
using RocksDbSharp;

namespace Kirisame.Storage.Tests;

internal static class Samples
{
    public static readonly DateTimeOffset Epoch = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);

    public static FakeTimeProvider Clock() => new(Epoch);

    public static RocksDbStore Open(string directory, TimeProvider time, DurabilityMode durability = DurabilityMode.Sync) =>
        RocksDbStore.Open(new RocksDbStoreOptions { DataDirectory = directory, Durability = durability, TimeProvider = time });

    public static BrokerMessage Message(TimeProvider time, string topic, string payload, QualityOfService qos = QualityOfService.AtLeastOnce,
        bool retain = false, bool properties = false, string? sender = "publisher")
    {
        var props = properties
            ? PublishProperties.From(new MqttProperties
            {
                PayloadFormatIndicator = 1,
                MessageExpiryInterval = 600,
                ContentType = "text/plain",
                ResponseTopic = "reply/here",
                CorrelationData = [1, 2, 3],
                UserProperties = [new UserProperty("k", "v"), new UserProperty("k", "w")],
            })
            : default;
        return new BrokerMessage(topic, Encoding.UTF8.GetBytes(topic), Encoding.UTF8.GetBytes(payload), qos, retain, props, sender, time.GetTimestamp());
    }

    /// The stored body a message read back from the store refers to.
    public static long BodyOf(BrokerMessage message) => ((RocksDbStore.BodyTag)message.StoreTag!).BodyId;

    public static SubscriptionRecord Subscription(string filter, QualityOfService qos = QualityOfService.AtLeastOnce, uint id = 0) =>
        new(filter, new TopicSubscription(filter, qos), id);

    public static async Task DurableAsync(RocksDbStore store) => await store.WrittenAsync().WaitAsync(TimeSpan.FromSeconds(60));

    /// Message bodies in an open store, read through RocksDB's own iterator on the store's handle.
    public static int CountBodies(RocksDbStore store) => store.CountKeys(KeySpace.Body);

    /// Keys in the folder by first byte (the key space), read with RocksDB directly after the store is closed.
    public static Dictionary<byte, int> CountKeys(string directory)
    {
        using var db = RocksDbSharp.RocksDb.Open(new DbOptions(), directory);
        var counts = new Dictionary<byte, int>();
        using var iterator = db.NewIterator();
        for (iterator.SeekToFirst(); iterator.Valid(); iterator.Next())
        {
            var space = iterator.GetKeySpan()[0];
            counts[space] = counts.GetValueOrDefault(space) + 1;
        }

        return counts;
    }

    public static string Text(ReadOnlyMemory<byte> bytes) => Encoding.UTF8.GetString(bytes.Span);
}
