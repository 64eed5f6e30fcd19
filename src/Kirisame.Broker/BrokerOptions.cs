namespace Kirisame.Broker;

/// Broker behaviour knobs, bound from the "Broker" configuration section. Validate() names a bad key.
public sealed class BrokerOptions
{
    /// Largest packet accepted from a client, fixed header included (v5 Maximum Packet Size in CONNACK).
    public int MaximumPacketSize { get; set; } = 256 * 1024;

    /// A connection that sends no CONNECT within this time is closed.
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// Highest QoS granted to subscriptions and accepted from publishers.
    public int MaximumQoS { get; set; } = 2;

    /// Outbound QoS 1/2 messages awaiting acknowledgement per client (RabbitMQ's prefetch); a v5 client's
    /// Receive Maximum lowers it.
    public int MaxInflightMessages { get; set; } = 20;

    /// Inbound QoS 2 messages awaiting PUBREL per client (our v5 Receive Maximum).
    public int ReceiveMaximum { get; set; } = 100;

    /// Per-session outbound queue bound: messages.
    public int MaxQueuedMessages { get; set; } = 1000;

    /// Per-session outbound queue bound: bytes of payload.
    public long MaxQueuedBytes { get; set; } = 64L * 1024 * 1024;

    /// Upper bound on how long a disconnected session is kept, in seconds. Null keeps v3 persistent
    /// sessions forever (Mosquitto's default; RabbitMQ's subscription_ttl is the same knob).
    public uint? MaxSessionExpirySeconds { get; set; }

    /// Keep alive the server asks v5 clients to use when they ask for none or more; null honours the client's.
    public ushort? ServerKeepAlive { get; set; }

    /// Seconds between $SYS updates; 0 turns them off.
    public int SysInterval { get; set; } = 10;

    public bool RetainAvailable { get; set; } = true;

    /// Topic Alias Maximum offered to v5 clients (client → server aliases).
    public ushort TopicAliasMaximum { get; set; } = 64;

    /// Prefix for v5 Response Information when a client requests it; empty sends none.
    public string ResponseInformationPrefix { get; set; } = "";

    public bool WildcardSubscriptionAvailable { get; set; } = true;

    public bool SubscriptionIdentifiersAvailable { get; set; } = true;

    public bool SharedSubscriptionAvailable { get; set; } = true;

    /// Server redirection (v5): when set, CONNECTs are refused with <see cref="RedirectReason"/> and this
    /// Server Reference, and v3 clients with "server unavailable".
    public string? ServerReference { get; set; }

    /// UseAnotherServer (0x9C, temporary) or ServerMoved (0x9D, permanent).
    public ServerRedirect RedirectReason { get; set; } = ServerRedirect.UseAnotherServer;

    public IEnumerable<string> Validate()
    {
        if (MaximumPacketSize is < 64 or > 268_435_460)
            yield return $"Broker:MaximumPacketSize must be between 64 and 268435460 (was {MaximumPacketSize}).";
        if (ConnectTimeout <= TimeSpan.Zero)
            yield return "Broker:ConnectTimeout must be positive.";
        if (MaximumQoS is < 0 or > 2)
            yield return $"Broker:MaximumQoS must be 0, 1 or 2 (was {MaximumQoS}).";
        if (MaxInflightMessages is < 1 or > 65535)
            yield return $"Broker:MaxInflightMessages must be between 1 and 65535 (was {MaxInflightMessages}).";
        if (ReceiveMaximum is < 1 or > 65535)
            yield return $"Broker:ReceiveMaximum must be between 1 and 65535 (was {ReceiveMaximum}).";
        if (MaxQueuedMessages < 1)
            yield return $"Broker:MaxQueuedMessages must be at least 1 (was {MaxQueuedMessages}).";
        if (MaxQueuedBytes < 1)
            yield return $"Broker:MaxQueuedBytes must be at least 1 (was {MaxQueuedBytes}).";
        if (ServerReference is { Length: 0 })
            yield return "Broker:ServerReference must not be empty (leave it out to turn redirection off).";
        if (!Enum.IsDefined(RedirectReason))
            yield return $"Broker:RedirectReason must be UseAnotherServer or ServerMoved (was {RedirectReason}).";
        if (SysInterval < 0)
            yield return $"Broker:SysInterval must be 0 (off) or more seconds (was {SysInterval}).";
    }
}

public enum ServerRedirect
{
    UseAnotherServer,
    ServerMoved,
}
