namespace Kirisame.Protocol.Packets;

/// A materialised control packet. PUBLISH is a struct (<see cref="PublishPacket"/>) so that the hot path
/// does not allocate; <see cref="PublishMessagePacket"/> wraps one where a class is needed.
public abstract class MqttPacket
{
    public abstract PacketType Type { get; }
}
