namespace Kirisame.MqttSn.Gateway;

/// A client's state as the gateway sees it (MQTT-SN 1.2 §6.14, figure 4).
internal enum SnClientState
{
    /// CONNECT received: the will flow (WILLTOPICREQ/WILLMSGREQ) or the broker's answer is pending.
    Connecting,

    Active,

    /// DISCONNECT with a Duration: messages for it wait in its broker session until it wakes.
    Asleep,

    /// PINGREQ with its ClientId while asleep: buffered messages are being sent; PINGRESP sends it back to sleep.
    Awake,

    /// Disconnected, refused or lost: no longer in the gateway's table.
    Closed,
}
