namespace Kirisame.MqttSn.Codec;

/// The ReturnCode byte of CONNACK, REGACK, PUBACK, SUBACK, WILLTOPICRESP and WILLMSGRESP (MQTT-SN 1.2 §5.3.10).
/// The specification has no "not authorized": a refusal by the broker's ACL is answered NotSupported, and the
/// log line says why.
internal enum SnReturnCode : byte
{
    Accepted = 0x00,
    Congestion = 0x01,
    InvalidTopicId = 0x02,
    NotSupported = 0x03,
}
