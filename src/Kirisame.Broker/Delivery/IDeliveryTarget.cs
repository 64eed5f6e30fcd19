using Kirisame.Protocol;

namespace Kirisame.Broker.Delivery;

/// What holds a session and receives its deliveries: a network connection today, an in-process client, and
/// later a bridge, an MQTT-SN gateway client or a remote cluster node. The session decides what to send and
/// when (queue, in-flight window, acknowledgements); the target only carries it. Routing never knows which
/// kind of target it has.
///
/// Calls to Enqueue* come with the session's lock held: a target queues and returns, never calls back into
/// the broker from inside them.
internal interface IDeliveryTarget
{
    /// The client id as log lines quote it (cut short).
    public string LogName { get; }

    /// Where the client is, for log lines: a remote address, or "in-process".
    public string Origin { get; }

    /// QoS 1/2 messages it takes in flight at once: min(the broker's window, the client's Receive Maximum).
    public int SendWindow { get; }

    public bool IsClosing { get; }

    /// Completes once the target has let go of the session (its connection closed and cleaned up).
    public Task Finished { get; }

    /// Messages queued in the target and not yet handed to its client (a network connection: not yet written).
    public int Backlog { get; }

    /// Bytes (topic and payload) of <see cref="Backlog"/>.
    public long BacklogBytes { get; }

    /// The client is not taking what was handed to it: a socket whose send buffer does not drain, an in-process
    /// reader that does not read. Back-pressure's sign of a slow consumer.
    public bool OutputBlocked { get; }

    /// Queues a PUBLISH. False when the target refuses it (it is closing); a QoS 0 message is also refused when
    /// <paramref name="mayDrop"/> and the target's queue is over the broker's limits.
    public bool TryEnqueuePublish(BrokerMessage message, QualityOfService qos, bool retain, bool dup, ushort packetId, uint[] subscriptionIds, bool mayDrop = false);

    /// Queues the PUBREL of an outbound QoS 2 exchange (after PUBREC), with Packet identifier not found when
    /// the session has no such exchange.
    public void EnqueueRelease(ushort packetId, ReasonCode reason);

    /// The client as the admin surface shows it while it holds its session (connected).
    public Admin.ClientSnapshot Describe(string clientId);

    /// Asks the target to let go: a network client is told <paramref name="reason"/> (v5 DISCONNECT) and closed.
    public void RequestClose(ReasonCode? reason, string? why = null);
}
