namespace Kirisame.Broker.Tenants;

/// What one tenant may use (issue 18, item 1); null = no limit. Each limit has the MQTT 5 reason code a client
/// over it gets (docs/adr/0021-tenants.md):
/// connections and sessions refuse the CONNECT with 0x97 Quota exceeded (3.1.1: 0x03 Server unavailable);
/// the message rate disconnects the publisher with 0x96 Message rate too high (a DISCONNECT code only: PUBACK has
/// none for it); queued and retained bytes refuse the PUBLISH with 0x97 in PUBACK/PUBREC (a 3.1.1 client, whose
/// acknowledgements cannot refuse, is disconnected; a QoS 0 message is dropped and counted).
public sealed record TenantQuotas
{
    /// Network clients connected at once.
    public int? MaxConnections { get; init; }

    /// Sessions held, connected or not.
    public int? MaxSessions { get; init; }

    /// PUBLISH packets per second from all the tenant's clients together.
    public double? MaxMessagesPerSecond { get; init; }

    /// Bytes waiting in the tenant's sessions' pending queues.
    public long? MaxQueuedBytes { get; init; }

    public int? MaxRetainedMessages { get; init; }

    /// Payload bytes of the retained messages held.
    public long? MaxRetainedBytes { get; init; }

    public static TenantQuotas None { get; } = new();

    public override string ToString() =>
        string.Join(", ", new[]
        {
            MaxConnections is { } c ? $"connections {c}" : null,
            MaxSessions is { } s ? $"sessions {s}" : null,
            MaxMessagesPerSecond is { } r ? $"{r} messages/s" : null,
            MaxQueuedBytes is { } q ? $"queued {q} bytes" : null,
            MaxRetainedMessages is { } rc ? $"retained {rc} messages" : null,
            MaxRetainedBytes is { } rb ? $"retained {rb} bytes" : null,
        }.Where(p => p is not null)) is { Length: > 0 } text ? text : "no quotas";
}
