namespace Kirisame.MqttSn.Diagnostics;

/// Why a datagram the gateway received was dropped: the `reason` tag of kirisame.mqttsn.datagrams.dropped.
/// Values are bounded by this enum whatever the senders do.
internal enum SnDropReason
{
    /// Not an MQTT-SN message: bad length, truncated, a body its type does not allow, not UTF-8 where text is due.
    Malformed,

    /// A message that needs a connection from an address that has none (and not a CONNECT, SEARCHGW or QoS −1 PUBLISH).
    UnknownClient,

    /// A message type a gateway does not take (ADVERTISE, GWINFO, Encapsulated, reserved types) or one that is out
    /// of place in the client's state.
    Unexpected,
}
