namespace Kirisame.Cluster.Grains;

/// What one node sends another in one call: its route changes, the messages routed to the other node's
/// subscribers, retained messages replicated to every node, and its clients' wills — in the order they happened,
/// batched so that no PUBLISH costs a grain call of its own (docs/adr/0020).
[GenerateSerializer]
internal sealed class NodeBatch
{
    /// The sending silo (SiloAddress.ToParsableString): the receiver keeps its routes and wills under it.
    [Id(0)] public string From { get; set; } = "";

    /// When set, the sender's routes are replaced by these filters before the changes below apply (the first batch to a
    /// node, and a batch sent again after a failed call, which may or may not have arrived).
    [Id(1)] public List<string>? RouteSnapshot { get; set; }

    /// Filters the sender's clients began to hold (first subscriber), after the snapshot if there is one.
    [Id(2)] public List<string> AddedFilters { get; set; } = [];

    /// Filters the sender's clients no longer hold (last unsubscriber).
    [Id(3)] public List<string> RemovedFilters { get; set; } = [];

    /// MQTT 5 PUBLISH packets, one after the other: the codec's encoding carries topic, payload, QoS, RETAIN and
    /// properties without a second format to maintain. A retained one is to be kept as well as delivered. A slice of the
    /// sending link's pooled chunk (<see cref="ChunkBuffer"/>), serialized from there; the receiver gets an array of its own.
    [Id(4)] public ReadOnlyMemory<byte> Messages { get; set; }

    /// Retained messages removed without a delivery (expired, deleted by an administrator), after <see cref="Messages"/>.
    [Id(5)] public List<string> RetainedRemoved { get; set; } = [];

    /// When set, the sender's wills are replaced by these before the changes below apply (as for routes).
    [Id(6)] public List<WillEntry>? WillSnapshot { get; set; }

    /// Clients that hold their id on the sender, with their will (null: the client let go), after the snapshot.
    [Id(7)] public List<WillEntry> Wills { get; set; } = [];

    /// Messages of <see cref="Messages"/> (by position) that are the receiver's share of a shared subscription group:
    /// delivered to one of its own members of that group, and to nothing else.
    [Id(8)] public List<SharedDelivery> Shared { get; set; } = [];

    /// Messages of <see cref="Messages"/> (by position) that the sender relayed for a session that moved from it
    /// (<see cref="RelayRoutes"/>): routed like the others, but not relayed again.
    [Id(9)] public List<int> Relayed { get; set; } = [];

    public bool IsEmpty => RouteSnapshot is null && WillSnapshot is null && AddedFilters.Count == 0 && RemovedFilters.Count == 0 && Messages.Length == 0
        && RetainedRemoved.Count == 0 && Wills.Count == 0;
}

/// A client of the sending node and its will: Will null once the client let go of its id there.
[GenerateSerializer]
internal sealed record WillEntry([property: Id(0)] string ClientId, [property: Id(1)] long Epoch, [property: Id(2)] byte[]? Will);

/// The message at <paramref name="Index"/> of a batch goes to one member of "$share/{ShareName}/{TopicFilter}".
[GenerateSerializer]
internal sealed record SharedDelivery([property: Id(0)] int Index, [property: Id(1)] string ShareName, [property: Id(2)] string TopicFilter);
