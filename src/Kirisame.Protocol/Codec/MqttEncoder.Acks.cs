using System.Buffers.Binary;

namespace Kirisame.Protocol.Codec;

public static partial class MqttEncoder
{
    /// Writes PUBACK/PUBREC/PUBREL/PUBCOMP without properties and without allocating: 4 bytes, or 5 when a v5
    /// reason code other than Success is sent. The destination needs 5 bytes.
    public static int WritePublishAck(Span<byte> destination, PacketType type, ushort packetId, ReasonCode reason, ProtocolVersion version)
    {
        destination[0] = (byte)(((int)type << 4) | (type == PacketType.PubRel ? 0x02 : 0));
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], packetId);
        if (version == ProtocolVersion.V500 && reason != ReasonCode.Success)
        {
            destination[1] = 3;
            destination[4] = (byte)reason;
            return 5;
        }

        destination[1] = 2;
        return 4;
    }

    public static ReadOnlySpan<byte> PingResp => [0xD0, 0x00];

    public static ReadOnlySpan<byte> PingReq => [0xC0, 0x00];
}
