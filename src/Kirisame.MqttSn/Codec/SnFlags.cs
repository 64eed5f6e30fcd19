namespace Kirisame.MqttSn.Codec;

/// The Flags byte (MQTT-SN 1.2 §5.3.4): DUP (bit 7), QoS (bits 6-5; 0b11 is QoS −1, "publish without a
/// connection"), Retain (4), Will (3), CleanSession (2), TopicIdType (1-0).
internal readonly record struct SnFlags(byte Value)
{
    private const byte DupBit = 0x80;
    private const byte RetainBit = 0x10;
    private const byte WillBit = 0x08;
    private const byte CleanSessionBit = 0x04;

    /// The QoS −1 encoding of bits 6-5.
    public const int QoSMinusOne = -1;

    public bool Dup => (Value & DupBit) != 0;

    /// 0, 1, 2, or −1 (0b11).
    public int QoS => ((Value >> 5) & 0b11) is 0b11 ? QoSMinusOne : (Value >> 5) & 0b11;

    public bool Retain => (Value & RetainBit) != 0;

    public bool Will => (Value & WillBit) != 0;

    public bool CleanSession => (Value & CleanSessionBit) != 0;

    public SnTopicIdType TopicIdType => (SnTopicIdType)(Value & 0b11);

    /// Bits 1-0 set to 0b11 are reserved.
    public bool TopicIdTypeReserved => (Value & 0b11) == 0b11;

    public static SnFlags Make(int qos, bool retain = false, SnTopicIdType topicIdType = SnTopicIdType.Normal, bool dup = false) =>
        new((byte)((dup ? DupBit : 0) | ((qos < 0 ? 0b11 : qos & 0b11) << 5) | (retain ? RetainBit : 0) | (byte)topicIdType));

    public static byte WithDup(byte flags) => (byte)(flags | DupBit);
}
