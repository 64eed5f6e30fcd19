using Kirisame.Protocol.Properties;

namespace Kirisame.Protocol.Packets;

public sealed class ConnectPacket : MqttPacket
{
    public override PacketType Type => PacketType.Connect;

    public ProtocolVersion ProtocolVersion { get; set; } = ProtocolVersion.V311;

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
