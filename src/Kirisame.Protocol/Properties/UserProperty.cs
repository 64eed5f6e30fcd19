namespace Kirisame.Protocol.Properties;

/// A User Property (0x26): a name/value pair. Several may share a name; order is kept [MQTT-3.3.2-18].
public readonly record struct UserProperty(string Name, string Value);
