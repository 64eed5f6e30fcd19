using Kirisame.Client;
using Kirisame.Protocol;

namespace Kirisame.Bridges;

/// One bridge (Mosquitto's `connection` section), from the configuration's `Bridges:<name>` (BridgeConfiguration).
internal sealed record BridgeOptions
{
    public required string Name { get; init; }

    /// Tried in order: on failure the next, and after a lost connection the first again.
    public required IReadOnlyList<MqttServerAddress> Addresses { get; init; }

    public ProtocolVersion ProtocolVersion { get; init; } = ProtocolVersion.V311;

    /// Default "&lt;hostname&gt;.&lt;name&gt;", as Mosquitto.
    public required string ClientId { get; init; }

    public string? UserName { get; init; }

    public string? Password { get; init; }

    public MqttTlsOptions Tls { get; init; } = new();

    /// Mosquitto's cleansession: false keeps the remote session (and what the remote queued for the bridge).
    public bool CleanStart { get; init; }

    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(60);

    /// 3.1.1: send the bridge flag (protocol level 0x84); a remote that refuses it is retried without.
    public bool TryPrivate { get; init; } = true;

    public TimeSpan RestartTimeoutBase { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan RestartTimeoutCap { get; init; } = TimeSpan.FromSeconds(30);

    public bool Notifications { get; init; } = true;

    /// Default "$SYS/broker/connection/&lt;ClientId&gt;/state", as Mosquitto.
    public required string NotificationTopic { get; init; }

    public required IReadOnlyList<BridgeTopicRule> Topics { get; init; }

    /// The tenant whose broker core the bridge's local side is in (docs/adr/0021); null for the default tenant.
    public string? Tenant { get; init; }
}

internal enum BridgeDirection
{
    Out,
    In,
    Both,
}

/// Mosquitto's `topic pattern [out|in|both [qos [local-prefix remote-prefix]]]`: the local topic
/// LocalPrefix + t is the remote topic RemotePrefix + t, for t matching Pattern.
internal sealed record BridgeTopicRule(string Pattern, BridgeDirection Direction, QualityOfService QoS, string LocalPrefix, string RemotePrefix)
{
    public bool Out => Direction is BridgeDirection.Out or BridgeDirection.Both;

    public bool In => Direction is BridgeDirection.In or BridgeDirection.Both;

    public string LocalFilter => LocalPrefix + Pattern;

    public string RemoteFilter => RemotePrefix + Pattern;
}
