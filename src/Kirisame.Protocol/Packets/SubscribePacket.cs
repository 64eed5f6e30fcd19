using Kirisame.Protocol.Properties;

namespace Kirisame.Protocol.Packets;

public sealed class SubscribePacket : MqttPacket
{
    public override PacketType Type => PacketType.Subscribe;

    public ushort PacketId { get; set; }

    public List<TopicSubscription> Subscriptions { get; set; } = [];

    public MqttProperties? Properties { get; set; }
}

/// Retain Handling (v5 section 3.8.3.1).
public enum RetainHandling : byte
{
    SendOnSubscribe = 0,
    SendOnNewSubscribe = 1,
    DoNotSend = 2,
}

public readonly record struct TopicSubscription(
    string Filter,
    QualityOfService MaximumQoS,
    bool NoLocal = false,
    bool RetainAsPublished = false,
    RetainHandling RetainHandling = RetainHandling.SendOnSubscribe);

public sealed class SubAckPacket : MqttPacket
{
    public override PacketType Type => PacketType.SubAck;

    public ushort PacketId { get; set; }

    /// One per filter, in order. For 3.1.1 only 0x00, 0x01, 0x02 and 0x80 exist.
    public List<ReasonCode> ReasonCodes { get; set; } = [];

    public MqttProperties? Properties { get; set; }
}

public sealed class UnsubscribePacket : MqttPacket
{
    public override PacketType Type => PacketType.Unsubscribe;

    public ushort PacketId { get; set; }

    public List<string> Filters { get; set; } = [];

    public MqttProperties? Properties { get; set; }
}

public sealed class UnsubAckPacket : MqttPacket
{
    public override PacketType Type => PacketType.UnsubAck;

    public ushort PacketId { get; set; }

    /// MQTT 5.0 only: one per filter. Empty for 3.1/3.1.1, whose UNSUBACK carries none.
    public List<ReasonCode> ReasonCodes { get; set; } = [];

    public MqttProperties? Properties { get; set; }
}
