namespace Kirisame.Cluster.Grains;

/// A session on its way from the node that held its client id to the node where the client connected again
/// (docs/adr/0020): what the store keeps of a session (Broker.Storage.StoredSession), in plain values. Its messages
/// travel as MQTT 5 PUBLISH packets like a batch's (<see cref="PublishPackets"/>), one per queue entry, in queue order.
[GenerateSerializer]
internal sealed class SessionTransfer
{
    [Id(0)] public string ClientId { get; set; } = "";

    [Id(1)] public uint ExpiryInterval { get; set; }

    /// The highest queue sequence the session has used: numbering continues after it on the new node.
    [Id(2)] public long LastSequence { get; set; }

    [Id(3)] public List<TransferredSubscription> Subscriptions { get; set; } = [];

    /// In-flight entries in send order, then pending ones, oldest first; <see cref="Messages"/> holds their messages.
    [Id(4)] public List<TransferredEntry> Queue { get; set; } = [];

    [Id(5)] public byte[] Messages { get; set; } = [];

    /// Inbound QoS 2 packet ids whose PUBREL has not come yet.
    [Id(6)] public List<ushort> InboundQoS2 { get; set; } = [];

    /// The session stays on the node that gave it, queueing what is routed there, until the receiver asks for the
    /// rest (<see cref="INodeInbox.TakeRest"/>): no message routed to the old node while the session moves is lost.
    [Id(7)] public bool Live { get; set; }
}

/// A subscription with its options and v5 Subscription Identifier (0: none).
[GenerateSerializer]
internal sealed record TransferredSubscription([property: Id(0)] string Filter, [property: Id(1)] byte MaximumQoS, [property: Id(2)] bool NoLocal,
    [property: Id(3)] bool RetainAsPublished, [property: Id(4)] byte RetainHandling, [property: Id(5)] uint SubscriptionId);

/// A queue entry: how the message is delivered to this session (QoS, RETAIN, subscription ids, shared group), and for
/// one in flight its packet id (0: pending) and state.
[GenerateSerializer]
internal sealed record TransferredEntry([property: Id(0)] long Sequence, [property: Id(1)] byte QoS, [property: Id(2)] bool Retain,
    [property: Id(3)] uint[] SubscriptionIds, [property: Id(4)] string? GroupName, [property: Id(5)] string? GroupFilter,
    [property: Id(6)] ushort PacketId, [property: Id(7)] byte State);
