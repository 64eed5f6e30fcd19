using System.Buffers;
using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;

namespace Kirisame.Benchmarks;

/// The packets the benchmarks measure. Contents are fixed so that runs compare; README.md describes them.
internal static class Samples
{
    public const int MaximumPacketSize = 1024 * 1024;

    /// Room for the largest sample; encode benchmarks write into one such buffer, allocated in setup.
    public const int OutputBufferSize = 4096;

    public static PublishPacket Qos0Publish() => new()
    {
        Topic = "sensors/building-1/floor-3/temperature"u8.ToArray(),
        Payload = Payload(64),
    };

    /// QoS 1 with the v5 properties a request/response client sends. The user properties are encoded
    /// contiguously, as a well-behaved client does, so the decoder can keep them as one slice.
    public static PublishPacket Qos1PublishWithProperties()
    {
        var properties = new MqttProperties
        {
            MessageExpiryInterval = 3600,
            ContentType = "application/json",
            ResponseTopic = "replies/client-42/requests",
            CorrelationData = Payload(16),
        };
        properties.AddUserProperty("trace-id", "4bf92f3577b34da6a3ce929d0e0e4736");
        properties.AddUserProperty("tenant", "acme");
        return new PublishPacket
        {
            QoS = QualityOfService.AtLeastOnce,
            PacketId = 4242,
            Topic = "requests/inventory/reserve"u8.ToArray(),
            Payload = Payload(64),
            Properties = PublishProperties.From(properties),
        };
    }

    /// A CONNECT with credentials and a will; for v5 also connect and will properties.
    public static ConnectPacket ConnectWithWill(ProtocolVersion version)
    {
        var v5 = version == ProtocolVersion.V500;
        return new ConnectPacket
        {
            ProtocolVersion = version,
            CleanStart = false,
            KeepAlive = 60,
            ClientId = "device-0042-kitchen-thermostat",
            UserName = "device-0042",
            Password = Payload(24),
            Properties = v5 ? new MqttProperties { SessionExpiryInterval = 86400, ReceiveMaximum = 100, TopicAliasMaximum = 16 } : null,
            Will = new WillMessage
            {
                Topic = "devices/device-0042/status",
                Payload = "offline"u8.ToArray(),
                QoS = QualityOfService.AtLeastOnce,
                Retain = true,
                Properties = v5 ? new MqttProperties { WillDelayInterval = 30, ContentType = "text/plain" } : null,
            },
        };
    }

    /// Ten filters mixing exact names and both wildcards; the v5 options differ per filter.
    public static SubscribePacket SubscribeTenFilters()
    {
        string[] filters =
        [
            "devices/+/status", "devices/+/telemetry/#", "home/kitchen/temperature", "home/+/humidity",
            "alerts/#", "$SYS/broker/clients/connected", "fleet/truck-17/gps", "fleet/+/engine/+",
            "orders/eu-west/created", "replies/client-42/#",
        ];
        var packet = new SubscribePacket { PacketId = 7 };
        for (var i = 0; i < filters.Length; i++)
        {
            packet.Subscriptions.Add(new TopicSubscription(
                filters[i],
                (QualityOfService)(i % 3),
                NoLocal: i % 2 == 0,
                RetainAsPublished: i % 4 == 0,
                RetainHandling: (RetainHandling)(i % 3)));
        }

        return packet;
    }

    public static ReadOnlySequence<byte> Frame(in PublishPacket publish, ProtocolVersion version)
    {
        var bytes = new byte[MqttEncoder.GetPublishSize(publish, version)];
        MqttEncoder.WritePublish(bytes, publish, version);
        return new ReadOnlySequence<byte>(bytes);
    }

    public static ReadOnlySequence<byte> Frame(MqttPacket packet, ProtocolVersion version)
        => new(MqttEncoder.Encode(packet, version));

    /// Frames the one packet in <paramref name="input"/>, failing setup (not the measurement) if it is not whole.
    public static RawPacket ReadWhole(MqttFrameReader reader, in ReadOnlySequence<byte> input)
    {
        var status = reader.TryRead(input, out var raw, out var consumed, out var error);
        if (status != FrameStatus.Complete || !consumed.Equals(input.End))
            throw new InvalidOperationException($"Sample did not frame as one packet: {status}, {error}.");
        return raw;
    }

    public static void Check(DecodeError error, bool sameContent, string what)
    {
        if (error != DecodeError.None || !sameContent)
            throw new InvalidOperationException($"{what} did not round-trip: {error}.");
    }

    private static byte[] Payload(int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < bytes.Length; i++)
            bytes[i] = (byte)('a' + (i % 26));
        return bytes;
    }
}
