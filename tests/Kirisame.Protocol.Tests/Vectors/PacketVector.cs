using Kirisame.Protocol.Packets;

namespace Kirisame.Protocol.Tests.Vectors;

/// Raw bytes of one whole packet and what they decode to. <paramref name="Canonical"/> is false where the
/// specification allows a longer form than the one our encoder writes (so re-encoding gives other bytes).
public sealed record PacketVector(string Name, ProtocolVersion Version, byte[] Bytes, MqttPacket Expected, bool Canonical = true)
{
    public override string ToString() => Name;
}

/// Raw bytes that must be refused, with the rule (<see cref="DecodeError"/>) and the MQTT 5 reason code a
/// server sends for it. <paramref name="Spec"/> names the normative statement or section that drives the rule.
public sealed record InvalidVector(string Name, ProtocolVersion Version, byte[] Bytes, DecodeError Error, ReasonCode Reason, string Spec)
{
    public override string ToString() => Name;
}
