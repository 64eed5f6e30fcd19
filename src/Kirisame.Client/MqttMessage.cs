using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Client;

/// A message received from the server. It owns its memory. <see cref="PacketId"/> is the server's identifier of a
/// QoS 1/2 delivery, for <see cref="MqttClient.Acknowledge"/> when acknowledging is not automatic.
public sealed record MqttMessage(
    string Topic,
    ReadOnlyMemory<byte> Payload,
    QualityOfService QoS,
    bool Retain,
    bool Duplicate,
    PublishProperties Properties,
    ushort PacketId);

/// Why a connection ended: the server's DISCONNECT reason (5.0), a keep-alive timeout, a protocol error, the
/// network, or the client's own <see cref="MqttClient.DisconnectAsync"/>.
public sealed record MqttDisconnectInfo(ReasonCode? Reason, string Description, bool ByClient, Exception? Exception = null)
{
    public override string ToString() => Reason is { } r ? $"{Description} (reason 0x{(byte)r:X2})" : Description;
}
