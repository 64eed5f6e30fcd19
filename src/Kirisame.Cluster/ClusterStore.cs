using Kirisame.Broker.Delivery;
using Kirisame.Broker.Storage;

namespace Kirisame.Cluster;

/// The store as a cluster node's broker sees it: the node's own store, with two additions the broker needs no
/// cluster code for (docs/adr/0020).
/// - Durability marks include the messages sent to other nodes: a QoS 1/2 PUBLISH is acknowledged once the store has
///   committed it and every node it was routed to has accepted it (<see cref="ForwardTracker"/>).
/// - Retained messages set or removed here are replicated to every node.
/// Only a clustered server wraps its store; a single node calls its store directly.
internal sealed class ClusterStore(IBrokerStore inner, SharedStore? shared = null) : IBrokerStore
{
    public IBrokerStore Inner { get; } = inner;

    /// The folder of every node's store (Cluster:SharedStore), this node's among them; null when the nodes' stores are
    /// their own, and a node's persistent sessions die with it.
    public SharedStore? Shared { get; } = shared;

    public ForwardTracker Forwards { get; } = new();

    /// Set once the node is up; before it nothing is replicated (there is nobody to replicate to).
    public ClusterNode? Node { get; set; }

    public StoredState Load() => Inner.Load();

    public void PutSession(in SessionRecord session) => Inner.PutSession(session);

    public void DeleteSession(string clientId) => Inner.DeleteSession(clientId);

    public void PutSubscription(string clientId, in SubscriptionRecord subscription) => Inner.PutSubscription(clientId, subscription);

    public void DeleteSubscription(string clientId, string filter) => Inner.DeleteSubscription(clientId, filter);

    public void PutRetained(BrokerMessage message)
    {
        Inner.PutRetained(message);
        if (!Inbound.Applying)
            Node?.ReplicateRetained(message);
    }

    public void DeleteRetained(string topic)
    {
        Inner.DeleteRetained(topic);
        if (!Inbound.Applying)
            Node?.ReplicateRetainedRemoval(topic);
    }

    public void PutQueued(string clientId, in QueuedMessage queued, ushort packetId, InflightState state) => Inner.PutQueued(clientId, queued, packetId, state);

    public void DeleteQueued(string clientId, long sequence, BrokerMessage message) => Inner.DeleteQueued(clientId, sequence, message);

    public void PutInboundQoS2(string clientId, ushort packetId) => Inner.PutInboundQoS2(clientId, packetId);

    public void DeleteInboundQoS2(string clientId, ushort packetId) => Inner.DeleteInboundQoS2(clientId, packetId);

    public bool ReadsQueues => Inner.ReadsQueues;

    public ValueTask<IReadOnlyList<QueuedMessage>> ReadQueuedAsync(string clientId, long fromSequence, int maxMessages, long maxBytes) =>
        Inner.ReadQueuedAsync(clientId, fromSequence, maxMessages, maxBytes);

    /// The forwarding number reached: the broker takes a mark right after routing a PUBLISH, so it covers the copies
    /// of that message sent to other nodes. The store's own mark is read when asked about durability, which is later
    /// and so covers at least as much.
    public long Mark() => Forwards.Mark();

    public bool IsDurable(long mark) => Forwards.IsDone(mark) && Inner.IsDurable(Inner.Mark());

    public void WhenDurable(long mark, Action<object?> callback, object? state)
    {
        // The store calls back in mark order; the tracker then keeps that order among its own waiters.
        var forwards = Forwards;
        Inner.WhenDurable(Inner.Mark(), _ => forwards.WhenDone(mark, callback, state), null);
    }

    public bool Healthy => Inner.Healthy;

    public ValueTask DisposeAsync() => Inner.DisposeAsync();
}

/// Set while this thread routes a batch another node sent: those messages reached every node they were for already,
/// so they are neither forwarded again nor their retained changes replicated again — except by a relay to the node a
/// session moved to (<see cref="RelayRoutes"/>), whose forwards the batch's acceptance waits for; a message that was
/// itself relayed is not relayed again (two nodes relaying to each other would send it back and forth).
internal static class Inbound
{
    [ThreadStatic]
    private static bool t_applying;

    [ThreadStatic]
    private static bool t_wasRelayed;

    [ThreadStatic]
    private static List<long>? t_relayed;

    public static bool Applying => t_applying;

    /// The message being routed was relayed by the node that sent it.
    public static bool WasRelayed
    {
        get => t_wasRelayed;
        set => t_wasRelayed = value;
    }

    public static void Begin() => t_applying = true;

    /// A relayed copy's forward number, when routing a batch: its acceptance waits for it.
    public static void Relayed(long sequence)
    {
        if (t_applying && sequence != 0)
            (t_relayed ??= []).Add(sequence);
    }

    /// The forward numbers of what was relayed while routing the batch, if anything was.
    public static List<long>? End()
    {
        var relayed = t_relayed;
        t_applying = false;
        t_wasRelayed = false;
        t_relayed = null;
        return relayed;
    }
}
