namespace Kirisame.Cluster.Grains;

/// Each node's entry point for the others, one grain per node pinned to its silo (<see cref="NodeInboxPlacement"/>),
/// keyed by the silo's address with its generation (a restarted node is a new inbox), and a tenant's name for that
/// tenant's node there (<see cref="NodeInboxKey"/>).
internal interface INodeInbox : IGrainWithStringKey
{
    /// Applies a batch; returns once its messages are routed here and as durable as this node's store promises, so
    /// that the sender may acknowledge QoS 1/2 messages to their publishers.
    public Task Receive(NodeBatch batch);

    /// Closes this node's connection holding <paramref name="clientId"/> under <paramref name="epoch"/> or an older
    /// one (Session taken over, 0x8E): the id was claimed on another node. Returns once it is closed.
    public Task Kick(string clientId, long epoch);

    /// Like <see cref="Kick"/> for a claim of <paramref name="epoch"/> with clean start 0: closes the connection, then
    /// gives up the session it leaves (or a persistent session kept here without a connection) to the caller, which
    /// continues it. Null when there is none, or when this node's session is newer than the claim. This node keeps its
    /// stored copy until <see cref="HandedOver"/>.
    public Task<SessionTransfer?> HandOver(string clientId, long epoch);

    /// The caller has the session <see cref="HandOver"/> gave it, as durable as its store promises: the copy here goes.
    public Task HandedOver(string clientId);

    /// Every retained message here, as encoded PUBLISH packets: a node that joins starts from them.
    public Task<byte[]> Retained();

    /// Network clients connected to this node now ($SYS/broker/cluster/clients/connected, GET /api/v1/cluster).
    public Task<long> ConnectedClients();
}
