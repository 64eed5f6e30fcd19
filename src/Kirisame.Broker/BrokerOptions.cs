namespace Kirisame.Broker;

/// Broker behaviour knobs, bound from the "Broker" configuration section. Validate() names a bad key.
public sealed class BrokerOptions
{
    /// Largest packet accepted from a client, fixed header included (v5 Maximum Packet Size in CONNACK). 16 MiB, so
    /// that a message of a few megabytes goes through as it does with Mosquitto, HiveMQ and RabbitMQ by default
    /// (EMQX: 1 MB); what large packets cost is bounded across connections by <see cref="MaxPartialPacketBytes"/>.
    public int MaximumPacketSize { get; set; } = 16 * 1024 * 1024;

    /// Bytes of packets still arriving that the broker holds, across all connections; 0 = no limit. A packet is
    /// held whole before it is handled, so without this a few hundred clients that each begin a large PUBLISH and
    /// then trickle it would make the broker hold gigabytes. A packet over 64 KiB reserves its length (from its
    /// fixed header) before the rest is read; while the budget is full its connection is not read from (TCP
    /// back-pressure holds the client) and after <see cref="PartialPacketWaitTimeout"/> it is closed. Smaller
    /// packets never wait for it. At least <see cref="MaximumPacketSize"/>, so that one packet always fits.
    public long MaxPartialPacketBytes { get; set; } = 256L * 1024 * 1024;

    /// How long a connection waits for room in <see cref="MaxPartialPacketBytes"/> before it is closed (MQTT 5
    /// clients get DISCONNECT 0x89 Server busy). A waiting connection costs little: its socket and what it had read.
    public TimeSpan PartialPacketWaitTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// A connection that sends no CONNECT within this time is closed.
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// Highest QoS granted to subscriptions and accepted from publishers.
    public int MaximumQoS { get; set; } = 2;

    /// Outbound QoS 1/2 messages awaiting acknowledgement per client (RabbitMQ's prefetch); a v5 client's
    /// Receive Maximum lowers it.
    public int MaxInflightMessages { get; set; } = 20;

    /// Inbound QoS 2 messages awaiting PUBREL per client (our v5 Receive Maximum).
    public int ReceiveMaximum { get; set; } = 100;

    /// Per-session queue bound, in messages, for a consumer that is gone (offline) or slow (see
    /// <see cref="SlowConsumerTimeout"/>): beyond it <see cref="QueueOverflowAction"/> applies. A connected client
    /// that keeps up is never dropped for it: the publishers feeding it wait instead (<see cref="BackPressureThreshold"/>).
    /// It bounds queues held in memory: sessions that end with their connection, and every session when the store
    /// keeps nothing (--in-memory). A persistent session's queue on a durable store has
    /// <see cref="MaxPersistentQueuedMessages"/> instead.
    public int MaxQueuedMessages { get; set; } = 1000;

    /// Per-session queue bound, in messages, for a persistent session (Session Expiry Interval ≠ 0, 3.1.1 Clean
    /// Session 0) when the store reads queues back (RocksDB): its queue lives in the store and only
    /// <see cref="QueueWindowMessages"/> of it in memory, so the bound is sized for disk. Applied, like
    /// <see cref="MaxQueuedMessages"/>, to a consumer that is offline or slow. See docs/adr/0010-offline-queues-on-disk.md.
    public int MaxPersistentQueuedMessages { get; set; } = 1_000_000;

    /// The same bound in bytes of message (topic and payload).
    public long MaxPersistentQueuedBytes { get; set; } = 1L << 30;

    /// How much of a persistent session's queue stored on disk is held in memory while its client is connected: at
    /// most this many messages (and <see cref="QueueWindowBytes"/>); the rest is read back in order as the window
    /// drains. An offline session holds none of its queue in memory.
    public int QueueWindowMessages { get; set; } = 1000;

    /// The window's bound in bytes of message.
    public long QueueWindowBytes { get; set; } = 4L * 1024 * 1024;

    /// Ingest back-pressure: when a connected session that keeps up has this many messages waiting to go out
    /// (beyond its in-flight window), the broker stops reading from the publishers feeding it until it is down to
    /// half of that. Capped by <see cref="MaxQueuedMessages"/>. See docs/adr/0009-ingest-back-pressure.md.
    public int BackPressureThreshold { get; set; } = 1000;

    /// How long publishers wait for a session whose own client holds deliveries up (its socket does not drain, or
    /// its acknowledgements stopped) before that session is treated as a slow consumer: publishers no longer wait
    /// for it, and its queue limit and overflow action apply until it has caught up.
    public TimeSpan SlowConsumerTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// Per-session outbound queue bound: bytes of payload.
    public long MaxQueuedBytes { get; set; } = 64L * 1024 * 1024;

    /// What happens when a connected client's queue is over <see cref="MaxQueuedMessages"/> or
    /// <see cref="MaxQueuedBytes"/>: DropOldest drops a message (the oldest queued QoS 1/2 one, or the new
    /// QoS 0 one) and counts it, as Mosquitto and EMQX do; Disconnect does the same and also closes the
    /// connection, v5 clients with DISCONNECT 0x97 Quota exceeded, so that a consumer that cannot keep up
    /// finds out instead of silently losing messages.
    public QueueOverflowAction QueueOverflowAction { get; set; } = QueueOverflowAction.DropOldest;

    /// Upper bound on how long a disconnected session is kept, in seconds. Null keeps v3 persistent
    /// sessions forever (Mosquitto's default; RabbitMQ's subscription_ttl is the same knob).
    public uint? MaxSessionExpirySeconds { get; set; }

    /// How long the session of an MQTT 3.1.1 (or 3.1) client that connected with Clean Session 0 is kept after it
    /// disconnects: such a client cannot say (MQTT 5 clients send a Session Expiry Interval). RabbitMQ's MQTT
    /// subscription TTL and EMQX's session expiry are this knob; null keeps the session until the client comes
    /// back with Clean Session 1 (Mosquitto's default without persistent_client_expiration). Capped by
    /// MaxSessionExpirySeconds. Without a default, anonymous clients could leave sessions that never go away.
    public uint? DefaultSessionExpirySeconds { get; set; } = 86_400;

    /// Persistent sessions kept without a connection, at most; 0 = no limit. A CONNECT that would start one more
    /// persistent session while there are this many is refused: 0x97 Quota exceeded (MQTT 5), 0x03 Server
    /// unavailable (3.1.1). Resuming an existing session, and clean sessions, are never refused for it.
    public int MaxOfflineSessions { get; set; } = 500_000;

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

    /// Subscriptions one session may hold; beyond it SUBACK says 0x97 Quota exceeded (v5) or 0x80 (v3).
    /// 0 = no limit.
    public int MaxSubscriptionsPerClient { get; set; } = 10_000;

    /// Longest topic name or filter accepted, in UTF-8 bytes (the protocol allows 65535).
    public int MaxTopicLength { get; set; } = 65_535;

    /// Most levels in a topic name or filter. A filter of thousands of empty levels would cost the
    /// subscription tree a node per level; 0 = no limit.
    public int MaxTopicLevels { get; set; } = 128;

    /// PUBLISH packets per second one client may send (sustained, with a one-second burst); 0 = no limit.
    public double MaxPublishRate { get; set; }

    /// PUBLISH bytes per second one client may send (sustained, with a one-second burst); 0 = no limit.
    public double MaxPublishBytesRate { get; set; }

    /// What happens to a client over the publish rate: Throttle stops reading from it until it is back
    /// under the rate (TCP back-pressure slows it down); Disconnect closes it (v5 DISCONNECT 0x96).
    public PublishRateAction PublishRateAction { get; set; } = PublishRateAction.Throttle;

    /// Distinct topics whose message rates the topic tree shows (management API, console), per window (TopicRateWindow);
    /// messages to further topics are counted as untracked. Sampled when the load is high (Diagnostics/TopicRates).
    /// 0 turns per-topic rates off.
    public int TopicRateTopics { get; set; } = 4_096;

    /// The window topic rates are counted over: the rates shown are the last complete window's.
    public TimeSpan TopicRateWindow { get; set; } = TimeSpan.FromSeconds(10);

    public IEnumerable<string> Validate()
    {
        if (MaximumPacketSize is < 64 or > 268_435_460)
            yield return $"Broker:MaximumPacketSize must be between 64 and 268435460 (was {MaximumPacketSize}).";
        if (MaxPartialPacketBytes != 0 && MaxPartialPacketBytes < MaximumPacketSize)
            yield return $"Broker:MaxPartialPacketBytes must be 0 (no limit) or at least Broker:MaximumPacketSize ({MaximumPacketSize}), so that a packet of the maximum size can be received (was {MaxPartialPacketBytes}).";
        if (PartialPacketWaitTimeout <= TimeSpan.Zero)
            yield return "Broker:PartialPacketWaitTimeout must be positive.";
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
        if (BackPressureThreshold < 2)
            yield return $"Broker:BackPressureThreshold must be at least 2 (was {BackPressureThreshold}).";
        if (SlowConsumerTimeout <= TimeSpan.Zero)
            yield return $"Broker:SlowConsumerTimeout must be positive (was {SlowConsumerTimeout}).";
        if (DefaultSessionExpirySeconds == 0)
            yield return "Broker:DefaultSessionExpirySeconds must be at least 1 second (leave it out to keep 3.1.1 persistent sessions until the client returns).";
        if (MaxOfflineSessions < 0)
            yield return $"Broker:MaxOfflineSessions must be 0 (no limit) or more (was {MaxOfflineSessions}).";
        if (MaxQueuedBytes < 1)
            yield return $"Broker:MaxQueuedBytes must be at least 1 (was {MaxQueuedBytes}).";
        if (MaxPersistentQueuedMessages < 1)
            yield return $"Broker:MaxPersistentQueuedMessages must be at least 1 (was {MaxPersistentQueuedMessages}).";
        if (MaxPersistentQueuedBytes < 1)
            yield return $"Broker:MaxPersistentQueuedBytes must be at least 1 (was {MaxPersistentQueuedBytes}).";
        if (QueueWindowMessages < 1)
            yield return $"Broker:QueueWindowMessages must be at least 1 (was {QueueWindowMessages}).";
        if (QueueWindowBytes < 1)
            yield return $"Broker:QueueWindowBytes must be at least 1 (was {QueueWindowBytes}).";
        if (ServerReference is { Length: 0 })
            yield return "Broker:ServerReference must not be empty (leave it out to turn redirection off).";
        if (!Enum.IsDefined(RedirectReason))
            yield return $"Broker:RedirectReason must be UseAnotherServer or ServerMoved (was {RedirectReason}).";
        if (MaxSubscriptionsPerClient < 0)
            yield return $"Broker:MaxSubscriptionsPerClient must be 0 (no limit) or more (was {MaxSubscriptionsPerClient}).";
        if (MaxTopicLength is < 1 or > 65_535)
            yield return $"Broker:MaxTopicLength must be between 1 and 65535 (was {MaxTopicLength}).";
        if (MaxTopicLevels < 0)
            yield return $"Broker:MaxTopicLevels must be 0 (no limit) or more (was {MaxTopicLevels}).";
        if (MaxPublishRate < 0 || double.IsNaN(MaxPublishRate))
            yield return $"Broker:MaxPublishRate must be 0 (no limit) or more (was {MaxPublishRate}).";
        if (MaxPublishBytesRate < 0 || double.IsNaN(MaxPublishBytesRate))
            yield return $"Broker:MaxPublishBytesRate must be 0 (no limit) or more (was {MaxPublishBytesRate}).";
        if (!Enum.IsDefined(QueueOverflowAction))
            yield return $"Broker:QueueOverflowAction must be DropOldest or Disconnect (was {QueueOverflowAction}).";
        if (!Enum.IsDefined(PublishRateAction))
            yield return $"Broker:PublishRateAction must be Throttle or Disconnect (was {PublishRateAction}).";
        if (TopicRateTopics < 0)
            yield return $"Broker:TopicRateTopics must be 0 (off) or more (was {TopicRateTopics}).";
        if (TopicRateWindow < TimeSpan.FromSeconds(1))
            yield return $"Broker:TopicRateWindow must be at least 1 second (was {TopicRateWindow}).";
        if (SysInterval < 0)
            yield return $"Broker:SysInterval must be 0 (off) or more seconds (was {SysInterval}).";
    }
}

public enum PublishRateAction
{
    Throttle,
    Disconnect,
}

public enum QueueOverflowAction
{
    DropOldest,
    Disconnect,
}

public enum ServerRedirect
{
    UseAnotherServer,
    ServerMoved,
}
