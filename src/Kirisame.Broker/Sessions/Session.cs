using Kirisame.Broker.Delivery;
using Kirisame.Broker.Routing;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Broker.Sessions;

/// The state the broker keeps for one client id: subscriptions, QoS 1/2 messages not yet delivered or not
/// yet acknowledged, and inbound QoS 2 identifiers awaiting PUBREL. It outlives connections when the client
/// asked for a persistent session. Everything mutable here is guarded by <see cref="Sync"/>.
public sealed class Session(string clientId)
{
    public string ClientId { get; } = clientId;

    public Lock Sync { get; } = new();

    /// Filter as sent → subscription. The tree indexes the same objects.
    public Dictionary<string, Subscription> Subscriptions { get; } = new(StringComparer.Ordinal);

    /// Messages waiting for room in the in-flight window (or for the client to come back).
    public Queue<QueuedMessage> Pending { get; } = new();

    public long PendingBytes { get; set; }

    /// Outbound QoS 1/2 messages sent and not yet completed, in send order, by packet id.
    public Dictionary<ushort, InflightMessage> Inflight { get; } = [];

    /// Insertion order of <see cref="Inflight"/>, for re-sending in order on resume.
    public LinkedList<ushort> InflightOrder { get; } = new();

    /// Inbound QoS 2 packet ids whose PUBREC was sent and PUBREL not yet received.
    public HashSet<ushort> InboundQoS2 { get; } = [];

    /// Seconds the session lives after its connection closes; uint.MaxValue = forever; 0 = ends with the connection.
    public uint ExpiryInterval { get; set; }

    /// The connection that holds this session (from CONNECT until it closes); the session registry decides it.
    public ClientConnection? Owner { get; set; }

    /// The connection deliveries go to: set once CONNACK is queued, so nothing overtakes it.
    public ClientConnection? Connection { get; set; }

    public bool IsConnected => Connection is not null;

    /// When the connection went away (TimeProvider timestamp), for expiry.
    public long DisconnectedAtTicks { get; set; }

    /// Will to publish later (v5 Will Delay Interval), and when.
    public WillMessage? PendingWill { get; set; }

    public long PendingWillAtTicks { get; set; }

    public ProtocolVersion PendingWillVersion { get; set; }

    /// Count of messages dropped for this session since it began, and whether we are in a dropping episode
    /// (logged once per episode).
    public long DroppedMessages { get; set; }

    public bool Dropping { get; set; }

    private ushort _lastPacketId;

    /// Sequence number of the last queue entry made. Caller holds <see cref="Sync"/>.
    public long LastSequence { get; set; }

    /// Written to the store: a session that outlives its connection.
    public bool Durable => ExpiryInterval != 0;

    /// Next free outbound packet id. Caller holds <see cref="Sync"/>.
    public ushort NextPacketId()
    {
        for (var i = 0; i < 65535; i++)
        {
            _lastPacketId = _lastPacketId == 65535 ? (ushort)1 : (ushort)(_lastPacketId + 1);
            if (!Inflight.ContainsKey(_lastPacketId))
                return _lastPacketId;
        }

        return 0;
    }
}

/// A message queued for one session with the delivery details fixed at match time.
/// <see cref="Sequence"/> orders a session's queue, in memory and in the store.
public readonly record struct QueuedMessage(BrokerMessage Message, QualityOfService QoS, bool Retain, uint[] SubscriptionIds, SharedGroup? Group = null, long Sequence = 0);

public enum InflightState : byte
{
    /// PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    AwaitingAck,

    /// PUBREL sent, waiting for PUBCOMP.
    AwaitingComp,
}

public sealed class InflightMessage(QueuedMessage queued, ushort packetId)
{
    public QueuedMessage Queued { get; } = queued;

    public ushort PacketId { get; } = packetId;

    public InflightState State { get; set; }
}
