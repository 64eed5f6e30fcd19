using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Tests.Support;

namespace Kirisame.Protocol.Tests;

/// [MQTT-4.7.3-3] topic names and filters encode to at most 65,535 bytes: the two-byte length prefix cannot say
/// more on the way in, and the encoder refuses to write more on the way out.
public class StringLengthTests
{
    [Fact]
    public void TopicFilterOf65535Bytes_RoundTrips() // [MQTT-4.7.3-3]
    {
        var filter = new string('f', ushort.MaxValue);
        var subscribe = new SubscribePacket { PacketId = 1, Subscriptions = [new TopicSubscription(filter, QualityOfService.AtMostOnce)] };
        var bytes = MqttEncoder.Encode(subscribe, ProtocolVersion.V500);
        var decoded = Assert.IsType<SubscribePacket>(Frames.DecodeOne(bytes, ProtocolVersion.V500));
        Assert.Equal(filter, Assert.Single(decoded.Subscriptions).Filter);
    }

    [Fact]
    public void TopicLongerThan65535Bytes_IsNotEncoded() // [MQTT-4.7.3-3]
    {
        var filter = new string('f', ushort.MaxValue + 1);
        var subscribe = new SubscribePacket { PacketId = 1, Subscriptions = [new TopicSubscription(filter, QualityOfService.AtMostOnce)] };
        Assert.Throws<ArgumentException>(() => MqttEncoder.Encode(subscribe, ProtocolVersion.V500));
        var publish = new PublishMessagePacket(new PublishPacket { Topic = new byte[ushort.MaxValue + 1] });
        Assert.Throws<ArgumentException>(() => MqttEncoder.Encode(publish, ProtocolVersion.V500));
        var will = new ConnectPacket
        {
            ProtocolVersion = ProtocolVersion.V500,
            ClientId = "c",
            Will = new WillMessage { Topic = new string('w', ushort.MaxValue + 1) },
        };
        Assert.Throws<ArgumentException>(() => MqttEncoder.Encode(will, ProtocolVersion.V500));
    }
}
