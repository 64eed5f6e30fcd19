namespace Kirisame.Protocol;

/// The protocol level byte carried in CONNECT.
public enum ProtocolVersion : byte
{
    Unknown = 0,

    /// MQTT 3.1, protocol name "MQIsdp".
    V310 = 3,

    /// MQTT 3.1.1, protocol name "MQTT".
    V311 = 4,

    /// MQTT 5.0, protocol name "MQTT".
    V500 = 5,
}
