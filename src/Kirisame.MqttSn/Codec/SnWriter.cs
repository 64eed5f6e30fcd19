using System.Buffers.Binary;
using System.Text;

namespace Kirisame.MqttSn.Codec;

/// Writes the messages a gateway sends (MQTT-SN 1.2 §5.4). The small ones go into a caller's stack buffer
/// (<see cref="SmallMessage"/> bytes are always enough); PUBLISH and REGISTER become arrays, because they are kept
/// for retransmission until acknowledged.
internal static class SnWriter
{
    /// Enough for every message but PUBLISH, REGISTER and GWINFO.
    public const int SmallMessage = 8;

    /// A message with no body: WILLTOPICREQ, WILLMSGREQ, PINGRESP, DISCONNECT.
    public static int Empty(Span<byte> destination, SnMessageType type) => SnFrame.WriteHeader(destination, type, 0);

    /// CONNACK, WILLTOPICRESP, WILLMSGRESP: a return code.
    public static int ReturnCode(Span<byte> destination, SnMessageType type, SnReturnCode code)
    {
        var header = SnFrame.WriteHeader(destination, type, 1);
        destination[header] = (byte)code;
        return header + 1;
    }

    /// PUBREC, PUBREL, PUBCOMP, UNSUBACK: a MsgId.
    public static int MsgId(Span<byte> destination, SnMessageType type, ushort msgId)
    {
        var header = SnFrame.WriteHeader(destination, type, 2);
        BinaryPrimitives.WriteUInt16BigEndian(destination[header..], msgId);
        return header + 2;
    }

    /// REGACK, PUBACK: TopicId, MsgId, ReturnCode.
    public static int TopicAck(Span<byte> destination, SnMessageType type, ushort topicId, ushort msgId, SnReturnCode code)
    {
        var header = SnFrame.WriteHeader(destination, type, 5);
        BinaryPrimitives.WriteUInt16BigEndian(destination[header..], topicId);
        BinaryPrimitives.WriteUInt16BigEndian(destination[(header + 2)..], msgId);
        destination[header + 4] = (byte)code;
        return header + 5;
    }

    /// SUBACK (§5.4.16): Flags (the granted QoS), TopicId, MsgId, ReturnCode.
    public static int SubAck(Span<byte> destination, SnFlags flags, ushort topicId, ushort msgId, SnReturnCode code)
    {
        var header = SnFrame.WriteHeader(destination, SnMessageType.SubAck, 6);
        destination[header] = flags.Value;
        BinaryPrimitives.WriteUInt16BigEndian(destination[(header + 1)..], topicId);
        BinaryPrimitives.WriteUInt16BigEndian(destination[(header + 3)..], msgId);
        destination[header + 5] = (byte)code;
        return header + 6;
    }

    /// ADVERTISE (§5.4.1): GwId and Duration, the seconds until the next one.
    public static int Advertise(Span<byte> destination, byte gatewayId, ushort duration)
    {
        var header = SnFrame.WriteHeader(destination, SnMessageType.Advertise, 3);
        destination[header] = gatewayId;
        BinaryPrimitives.WriteUInt16BigEndian(destination[(header + 1)..], duration);
        return header + 3;
    }

    /// GWINFO (§5.4.3) from a gateway: the GwId alone (GwAdd is only for clients answering on a gateway's behalf).
    public static int GwInfo(Span<byte> destination, byte gatewayId)
    {
        var header = SnFrame.WriteHeader(destination, SnMessageType.GwInfo, 1);
        destination[header] = gatewayId;
        return header + 1;
    }

    public static byte[] Publish(SnFlags flags, ushort topicId, ushort msgId, ReadOnlySpan<byte> data)
    {
        var bodyLength = 5 + data.Length;
        var message = new byte[SnFrame.HeaderLength(bodyLength) + bodyLength];
        var at = SnFrame.WriteHeader(message, SnMessageType.Publish, bodyLength);
        message[at] = flags.Value;
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(at + 1), topicId);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(at + 3), msgId);
        data.CopyTo(message.AsSpan(at + 5));
        return message;
    }

    public static byte[] Register(ushort topicId, ushort msgId, string topicName)
    {
        var nameLength = Encoding.UTF8.GetByteCount(topicName);
        var bodyLength = 4 + nameLength;
        var message = new byte[SnFrame.HeaderLength(bodyLength) + bodyLength];
        var at = SnFrame.WriteHeader(message, SnMessageType.Register, bodyLength);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(at), topicId);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(at + 2), msgId);
        Encoding.UTF8.GetBytes(topicName, message.AsSpan(at + 4));
        return message;
    }

    /// A MsgId-only message kept for retransmission (PUBREL).
    public static byte[] MsgId(SnMessageType type, ushort msgId)
    {
        var message = new byte[4];
        MsgId(message, type, msgId);
        return message;
    }
}
