using System.Buffers;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Primitives;
using Kirisame.Protocol.Properties;

namespace Kirisame.Protocol.Codec;

public static partial class MqttEncoder
{
    /// Total bytes of a PUBLISH on the wire. Encode once per (version, QoS, retain, properties) variant and
    /// share the bytes among subscribers; only the packet identifier (bytes at <see cref="GetPacketIdOffset"/>)
    /// differs between QoS 1/2 deliveries.
    public static int GetPublishSize(in PublishPacket publish, ProtocolVersion version)
    {
        var body = GetPublishBodySize(publish, version);
        return 1 + VariableByteInteger.GetSize(body) + body;
    }

    /// Where the two packet identifier bytes sit in an encoded QoS 1/2 PUBLISH, so a shared encoding can be
    /// copied and patched per subscriber.
    public static int GetPacketIdOffset(in PublishPacket publish, ProtocolVersion version)
    {
        var body = GetPublishBodySize(publish, version);
        return 1 + VariableByteInteger.GetSize(body) + 2 + publish.Topic.Length;
    }

    private static int GetPublishBodySize(in PublishPacket p, ProtocolVersion version)
        => GetPublishBodySize(p, version, version == ProtocolVersion.V500 ? PropertyCodec.GetSize(p.Properties) : 0);

    private static int GetPublishBodySize(in PublishPacket p, ProtocolVersion version, int propertySize)
    {
        var size = Sizes.Binary(p.Topic.Length) + (p.QoS == QualityOfService.AtMostOnce ? 0 : 2) + p.Payload.Length;
        if (version == ProtocolVersion.V500)
            size += VariableByteInteger.GetSize(propertySize) + propertySize;

        if (size > VariableByteInteger.MaxValue)
            throw new ArgumentException($"A PUBLISH body of {size} bytes exceeds MQTT's maximum.", nameof(p));
        return size;
    }

    public static int WritePublish(Span<byte> destination, in PublishPacket p, ProtocolVersion version)
    {
        var w = new SpanWriter(destination);
        var flags = ((int)p.QoS << 1) | (p.Retain ? 1 : 0) | (p.Dup ? 0x08 : 0);
        w.WriteByte((byte)(0x30 | flags));
        // The property block's size is needed twice (body length, block length): compute it once.
        var propertySize = version == ProtocolVersion.V500 ? PropertyCodec.GetSize(p.Properties) : 0;
        w.WriteVariableByteInteger(GetPublishBodySize(p, version, propertySize));
        w.WriteBinary(p.Topic.Span);
        if (p.QoS != QualityOfService.AtMostOnce)
            w.WriteUInt16(p.PacketId);
        if (version == ProtocolVersion.V500)
            PropertyCodec.WriteBlock(ref w, p.Properties, propertySize);
        w.WriteRaw(p.Payload.Span);
        return w.Position;
    }

    public static void WritePublish(IBufferWriter<byte> writer, in PublishPacket publish, ProtocolVersion version)
    {
        var size = GetPublishSize(publish, version);
        WritePublish(writer.GetSpan(size), publish, version);
        writer.Advance(size);
    }
}
