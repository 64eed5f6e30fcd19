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

    /// After a <see cref="HandOver"/> that left the session live here (<see cref="SessionTransfer.Live"/>) and once the
    /// caller (node <paramref name="to"/>) has adopted it: the session leaves this node, and what it queued since the
    /// hand-over is returned (its subscriptions empty). Its filters stay routed from here to <paramref name="to"/> for a
    /// while, so that what the other nodes still send here reaches it there.
    public Task<SessionTransfer?> TakeRest(string clientId, string to);

    /// This node takes over the persistent session of <paramref name="clientId"/> from <paramref name="from"/>, which
    /// is shutting down (its registry record, then the session through <see cref="HandOver"/>). False when the id is
    /// another node's now, or the session was not there.
    public Task<bool> Adopt(string clientId, string from);

    /// Node <paramref name="adopter"/> took up the persistent sessions of the dead node <paramref name="dead"/> (Cluster:
    /// SharedStore, <see cref="DeadNodeSessions"/>): what this node held for the dead one, not accepted, goes there.
    /// Returns once it has been accepted.
    public Task SendHeld(string dead, string adopter);

    /// On the adopter: messages another node held for the dead node <paramref name="dead"/>, for the sessions taken up
    /// from it (the copies at <paramref name="shared"/> positions were given to their groups already).
    public Task ReceiveHeld(string dead, byte[] messages, List<int> shared);

    /// Node <paramref name="adopter"/> has the persistent sessions of the dead node <paramref name="dead"/>: CONNECTs
    /// waiting for one of them continue it from there.
    public Task Adopted(string dead, string adopter);

    /// Returns once what this node had queued for the others when called has been accepted by them (a leaving node's
    /// last step: the routes of the sessions it handed over are everywhere, and nothing more is on its way to it).
    public Task Flush();

    /// Who this node (every tenant's node of its server, asked through the default tenant's inbox) holds in registry
    /// partition <paramref name="partition"/>: a partition's new activation starts from the nodes' answers.
    public Task<HeldAnswer> Held(long partition);

    /// Every retained message here, as encoded PUBLISH packets: a node that joins starts from them.
    public Task<byte[]> Retained();

    /// Network clients connected to this node now ($SYS/broker/cluster/clients/connected, GET /api/v1/cluster).
    public Task<long> ConnectedClients();
}

/// A node's answer to a registry partition's new activation: who it holds there, and the dead nodes whose persistent
/// sessions it has not seen taken up yet (with a shared store): the records of those, lost with a partition that was on
/// one of them, come back only with the adoption, and until then a claim of an id the partition has no record of waits.
[GenerateSerializer]
internal sealed record HeldAnswer([property: Id(0)] List<HolderRecord> Records, [property: Id(1)] List<string> AwaitingAdoption);
