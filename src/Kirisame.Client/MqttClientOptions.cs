using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;

namespace Kirisame.Client;

/// What a client says in CONNECT and how it reaches the server.
public sealed record MqttClientOptions
{
    public required MqttServerAddress Server { get; init; }

    /// 3.1.1 (default) or 5.0.
    public ProtocolVersion ProtocolVersion { get; init; } = ProtocolVersion.V311;

    /// Empty lets a 5.0 server assign one (<see cref="MqttClient.ClientId"/> then has it); a 3.1.1 server accepts
    /// an empty one only with <see cref="CleanStart"/> [MQTT-3.1.3-7].
    public string ClientId { get; init; } = "";

    /// "Clean Session" in 3.1.1, "Clean Start" in 5.0.
    public bool CleanStart { get; init; } = true;

    /// PINGREQ is sent when nothing else was sent for this long; zero turns keep-alive off. At most 65,535 s.
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(60);

    /// Defaults to <see cref="MqttServerAddress.UserName"/>.
    public string? UserName { get; init; }

    /// Defaults to <see cref="MqttServerAddress.Password"/> (as UTF-8).
    public byte[]? Password { get; init; }

    public WillMessage? Will { get; init; }

    /// 5.0: seconds the server keeps the session after the connection ends.
    public uint SessionExpiryInterval { get; init; }

    /// QoS 1/2 publishes sent and not yet acknowledged, at most; a 5.0 server's Receive Maximum lowers it.
    public int MaxInflight { get; init; } = 64;

    /// 5.0: QoS 1/2 publishes the server may send before this client acknowledges them (the Receive Maximum).
    public ushort ReceiveMaximum { get; init; } = 100;

    /// The largest packet accepted from the server; a larger one closes the connection.
    public int MaximumPacketSize { get; init; } = 16 * 1024 * 1024;

    /// Received messages buffered for the reader, at most; beyond that the connection stops reading.
    public int ReceiveBuffer { get; init; } = 1024;

    /// True: each received QoS 1/2 message is acknowledged as soon as it is received. False: the reader
    /// acknowledges it with <see cref="MqttClient.Acknowledge"/> once it has dealt with it (e.g. a bridge, once
    /// the message is stored on the other side).
    public bool AutoAcknowledge { get; init; } = true;

    /// 3.1.1: send Mosquitto's bridge flag (protocol level 0x84, "try_private"): a server that understands it does
    /// not send back what this client published and keeps the retain flag of forwarded messages.
    public bool BridgeFlag { get; init; }

    /// 5.0 CONNECT properties beyond those above (e.g. user properties).
    public MqttProperties? ConnectProperties { get; init; }

    public MqttTlsOptions Tls { get; init; } = new();

    /// Time for the connection, TLS and WebSocket handshakes and the CONNACK together.
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);
}

/// TLS to the server (mqtts://, wss://). Without a CA file the system's trusted roots apply.
public sealed record MqttTlsOptions
{
    /// PEM file of the CA certificate(s) the server's certificate must chain to (instead of the system's).
    public string? CaFile { get; init; }

    /// PEM client certificate and its private key, for servers that ask for one.
    public string? CertificateFile { get; init; }

    public string? KeyFile { get; init; }

    /// Accept any server certificate and host name. For tests only: it gives up knowing who the server is.
    public bool Insecure { get; init; }
}
