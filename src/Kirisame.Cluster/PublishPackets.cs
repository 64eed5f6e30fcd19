using System.Buffers;
using Kirisame.Broker.Delivery;
using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Primitives;

namespace Kirisame.Cluster;

/// Messages between nodes travel as MQTT 5 PUBLISH packets, one after the other in a byte array: the codec already
/// carries every field of a message, and a node reads them back with the same decoder as a client's.
internal static class PublishPackets
{
    public static void Write(IBufferWriter<byte> output, BrokerMessage message, PublishProperties properties) =>
        MqttEncoder.WritePublish(output, new PublishPacket
        {
            Topic = message.TopicUtf8,
            Payload = message.Payload,
            QoS = message.QoS,
            Retain = message.Retain,
            PacketId = message.QoS == QualityOfService.AtMostOnce ? (ushort)0 : (ushort)1,
            Properties = properties,
        }, ProtocolVersion.V500);

    public static byte[] Encode(WillMessage will)
    {
        var output = new ArrayBufferWriter<byte>();
        MqttEncoder.WritePublish(output, new PublishPacket
        {
            Topic = System.Text.Encoding.UTF8.GetBytes(will.Topic),
            Payload = will.Payload,
            QoS = will.QoS,
            Retain = will.Retain,
            PacketId = will.QoS == QualityOfService.AtMostOnce ? (ushort)0 : (ushort)1,
            Properties = PublishProperties.From(will.Properties) with { TopicAlias = 0 },
        }, ProtocolVersion.V500);
        return output.WrittenSpan.ToArray();
    }

    /// Each packet of <paramref name="packets"/>, decoded in place (slices of the array). Throws on a malformed one:
    /// only nodes of the cluster send these.
    public static IEnumerable<PublishPacket> Read(ReadOnlyMemory<byte> packets)
    {
        var offset = 0;
        while (offset < packets.Length)
        {
            var flags = (byte)(packets.Span[offset] & 0x0F);
            if (VariableByteInteger.TryRead(packets.Span[(offset + 1)..], out var length, out var lengthBytes) != DecodeError.None)
                throw new InvalidDataException("A malformed packet length in a batch from another node.");
            var bodyStart = offset + 1 + lengthBytes;
            var raw = new RawPacket(PacketType.Publish, flags, packets.Slice(bodyStart, length), 1 + lengthBytes + length);
            var error = MqttDecoder.DecodePublish(raw, ProtocolVersion.V500, out var publish);
            if (error != DecodeError.None)
                throw new InvalidDataException($"A malformed PUBLISH in a batch from another node: {error}.");
            offset = bodyStart + length;
            yield return publish;
        }
    }
}
