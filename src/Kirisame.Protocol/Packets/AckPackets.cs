using Kirisame.Protocol.Properties;

namespace Kirisame.Protocol.Packets;

/// PUBACK, PUBREC, PUBREL and PUBCOMP: the same shape, a packet identifier and (v5) a reason code.
public sealed class PublishAckPacket : MqttPacket
{
    private readonly PacketType _type;

    public PublishAckPacket(PacketType type, ushort packetId, ReasonCode reasonCode = ReasonCode.Success, MqttProperties? properties = null)
    {
        if (type is not (PacketType.PubAck or PacketType.PubRec or PacketType.PubRel or PacketType.PubComp))
            throw new ArgumentOutOfRangeException(nameof(type), type, "Not a publish acknowledgement.");
        _type = type;
        PacketId = packetId;
        ReasonCode = reasonCode;
        Properties = properties;
    }

    public override PacketType Type => _type;

    public ushort PacketId { get; set; }

    public ReasonCode ReasonCode { get; set; }

    public MqttProperties? Properties { get; set; }
}
