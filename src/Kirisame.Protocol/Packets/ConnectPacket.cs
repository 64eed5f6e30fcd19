using Kirisame.Protocol.Properties;

namespace Kirisame.Protocol.Packets;

public sealed class ConnectPacket : MqttPacket
{
    public override PacketType Type => PacketType.Connect;

    public ProtocolVersion ProtocolVersion { get; set; } = ProtocolVersion.V311;

    /// Mosquitto's bridge flag: bit 7 of the protocol level (0x83, 0x84), which a bridge sets ("try_private") so that
    /// the broker does not send back what the bridge published, and keeps the RETAIN flag of what it forwards. Not
    /// part of the MQTT standard; 3.1 and 3.1.1 only (MQTT 5 bridges use No Local and Retain As Published).
    public bool IsBridge { get; set; }

    /// "Clean Session" in 3.1/3.1.1, "Clean Start" in 5.0.
    public bool CleanStart { get; set; } = true;

    public ushort KeepAlive { get; set; }

    public string ClientId { get; set; } = "";

    public WillMessage? Will { get; set; }

    public string? UserName { get; set; }

    public byte[]? Password { get; set; }

    /// MQTT 5.0 only; null when absent or for 3.1/3.1.1.
    public MqttProperties? Properties { get; set; }
}

public sealed class WillMessage
{
    public string Topic { get; set; } = "";

    public byte[] Payload { get; set; } = [];

    public QualityOfService QoS { get; set; }

    public bool Retain { get; set; }

    /// MQTT 5.0 only.
    public MqttProperties? Properties { get; set; }
}
