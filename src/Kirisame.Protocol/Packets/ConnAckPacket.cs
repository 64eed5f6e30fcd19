using Kirisame.Protocol.Properties;

namespace Kirisame.Protocol.Packets;

public sealed class ConnAckPacket : MqttPacket
{
    public override PacketType Type => PacketType.ConnAck;

    public bool SessionPresent { get; set; }

    /// The v5 reason code. For 3.1/3.1.1 it is written as <see cref="ReasonCodes.ToConnectReturnCode"/>
    /// unless <see cref="ReturnCode"/> is set explicitly.
    public ReasonCode ReasonCode { get; set; }

    /// The raw v3 return code; overrides the mapping from <see cref="ReasonCode"/> when set.
    public ConnectReturnCode? ReturnCode { get; set; }

    public MqttProperties? Properties { get; set; }
}
