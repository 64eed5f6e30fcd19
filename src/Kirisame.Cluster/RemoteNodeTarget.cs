using Kirisame.Broker.Admin;
using Kirisame.Broker.Delivery;
using Kirisame.Protocol;

namespace Kirisame.Cluster;

/// Another node as this broker sees it: a delivery target holding a session subscribed (at QoS 0, so routing hands it
/// every message at once, with no window or queue of the session's) to the filters that node's clients hold. Routing
/// here needs no cluster code at all; this target puts what it is given on the node's <see cref="PeerLink"/>, with the
/// message's own QoS, and the other node matches it against its own subscriptions (docs/adr/0020).
/// As a <paramref name="relay"/> it holds the filters of sessions that moved to that node (<see cref="RelayRoutes"/>) and
/// sends on their QoS 1/2 messages, those another node sent here included.
internal sealed class RemoteNodeTarget(PeerLink link, bool relay = false) : IDeliveryTarget
{
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _closing;

    public string LogName => $"node {link.Address}";

    public string Origin => "cluster";

    public int SendWindow => 1; // never used: the session's subscriptions are QoS 0

    public bool IsClosing => Volatile.Read(ref _closing) != 0;

    public Task Finished => _finished.Task;

    /// Back-pressure's view: what waits behind the link's next call (<see cref="LinkBacklog.Held"/>). A relay reports
    /// none: the link's own session is the one whose drains back-pressure hears of.
    public int Backlog => relay ? 0 : link.Backlog.Held;

    public long BacklogBytes => relay ? 0 : link.Backlog.HeldBytes;

    public bool OutputBlocked => false;

    public bool TryEnqueuePublish(BrokerMessage message, QualityOfService qos, bool retain, bool dup, ushort packetId, uint[] subscriptionIds, bool mayDrop = false)
    {
        if (IsClosing)
            return false;
        if (relay)
            return Relay(message);
        // Picked as the member of a shared group (its subscription there has an id of the link's): the other node
        // delivers it to one of its members of that group. Retained or not, this copy is the group's only one.
        if (subscriptionIds.Length > 0 && link.SharedRoute(subscriptionIds[0]) is { } group)
        {
            if (mayDrop && message.QoS == QualityOfService.AtMostOnce && link.Backlog.Messages >= link.MaxQueuedMessages)
                return false;
            link.Enqueue(message, group);
            return true;
        }

        // A message another node sent here was sent to every node it was for already. A retained one with a payload
        // reaches every node through the store's replication (ClusterStore), which delivers it there too.
        if (Inbound.Applying || (message.Retain && !message.Payload.IsEmpty))
            return true;
        // A QoS 0 message is dropped (and counted by the broker) only when the other node stopped keeping up and back-
        // pressure gave up waiting for it; a QoS 1/2 one never is: its publisher's acknowledgement waits for it.
        if (mayDrop && message.QoS == QualityOfService.AtMostOnce && link.Backlog.Messages >= link.MaxQueuedMessages)
            return false;
        link.Enqueue(message);
        return true;
    }

    /// QoS 1/2 only (a QoS 0 copy might be a second one), not a message that was relayed already, and not a retained
    /// message with a payload (replicated to every node anyway). Back to the node the message came from too: the session
    /// may have moved there. Duplicates are possible: the other node may have the route already and the message from
    /// its publisher's node too.
    private bool Relay(BrokerMessage message)
    {
        if (message.QoS == QualityOfService.AtMostOnce || Inbound.WasRelayed || (message.Retain && !message.Payload.IsEmpty))
            return true;
        Inbound.Relayed(link.EnqueueForward(message, relayed: true));
        return true;
    }

    public void EnqueueRelease(ushort packetId, ReasonCode reason)
    {
    }

    public ClientSnapshot Describe(string clientId) =>
        new(clientId, Connected: true, Origin, Listener: null, ProtocolVersion.V500, UserName: null, ConnectedSince: link.Since, KeepAlive: 0);

    /// An administrator's disconnect or a shutdown: the link stays (the node is still a member); only a membership
    /// change ends it.
    public void RequestClose(ReasonCode? reason, string? why = null)
    {
    }

    public void Close()
    {
        Volatile.Write(ref _closing, 1);
        _finished.TrySetResult();
    }
}
