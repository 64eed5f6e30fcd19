using Kirisame.Protocol.Properties;

namespace Kirisame.Protocol.Packets;

public sealed class PingReqPacket : MqttPacket
{
    public static readonly PingReqPacket Instance = new();

    public override PacketType Type => PacketType.PingReq;
}

public sealed class PingRespPacket : MqttPacket
{
    public static readonly PingRespPacket Instance = new();

    public override PacketType Type => PacketType.PingResp;
}

public sealed class DisconnectPacket : MqttPacket
{
    public override PacketType Type => PacketType.Disconnect;

    /// MQTT 5.0 only; 3.1/3.1.1 DISCONNECT has no body.
    public ReasonCode ReasonCode { get; set; }

    public MqttProperties? Properties { get; set; }
}

/// MQTT 5.0 only (enhanced authentication, section 3.15).
public sealed class AuthPacket : MqttPacket
{
    public override PacketType Type => PacketType.Auth;

    public ReasonCode ReasonCode { get; set; }

    public MqttProperties? Properties { get; set; }
}
