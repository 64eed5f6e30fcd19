using Kirisame.Broker.Diagnostics;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Broker.Admin;

/// A client as the broker sees it at one moment. The connection fields are null (or 0) while it is not connected.
/// <paramref name="Origin"/> is the remote address, or "in-process"; <paramref name="Listener"/> the transport's
/// listener name; <paramref name="KeepAlive"/> the keep-alive the broker enforces, in seconds (0: none).
public sealed record ClientSnapshot(
    string ClientId,
    bool Connected,
    string? Origin,
    string? Listener,
    ProtocolVersion? ProtocolVersion,
    string? UserName,
    DateTimeOffset? ConnectedSince,
    ushort KeepAlive);

/// A session at one moment. <paramref name="PendingMessages"/> and <paramref name="PendingBytes"/> are the QoS
/// 1/2 messages waiting to be sent (in memory, or only in the store for a persistent session's queue on disk);
/// <paramref name="InflightMessages"/> those sent and not yet acknowledged.
/// <paramref name="ExpiryInterval"/> is in seconds (uint.MaxValue: never; 0: ends with its connection);
/// <paramref name="ExpiresAt"/> is set while the session waits for its client. <paramref name="Drops"/> holds
/// the reasons that dropped at least one message for this session since it began.
public sealed record SessionSnapshot(
    string ClientId,
    bool Connected,
    int PendingMessages,
    long PendingBytes,
    int InflightMessages,
    uint ExpiryInterval,
    DateTimeOffset? ExpiresAt,
    int SubscriptionCount,
    IReadOnlyDictionary<DropReason, long> Drops);

/// One subscription of one session: the filter as the client sent it ("$share/…" included).
public sealed record SubscriptionSnapshot(
    string Filter,
    string? ShareName,
    QualityOfService MaximumQoS,
    bool NoLocal,
    bool RetainAsPublished,
    RetainHandling RetainHandling,
    uint SubscriptionIdentifier);

/// A retained message: a copy of its payload, and when it was received.
public sealed record RetainedSnapshot(string Topic, QualityOfService QoS, byte[] Payload, uint? MessageExpiryInterval, string? PublisherClientId);

/// The broker at one moment: counts now, and totals since <paramref name="StartedAt"/> (the same figures as
/// $SYS and the `Kirisame` meter). <paramref name="ConnectedClients"/> counts network clients;
/// <paramref name="Sessions"/> and <paramref name="Subscriptions"/> leave the broker's own $SYS client out.
/// <paramref name="StoreHealthy"/> is false while the store cannot write (QoS 1/2 messages are refused then).
public sealed record BrokerOverview(
    string Version,
    DateTimeOffset StartedAt,
    long ConnectedClients,
    long MaximumConnectedClients,
    long ConnectionsOpened,
    int Sessions,
    int Subscriptions,
    int RetainedMessages,
    long MessagesReceived,
    long MessagesSent,
    long MessagesDropped,
    long BytesReceived,
    long BytesSent,
    bool StoreHealthy);
