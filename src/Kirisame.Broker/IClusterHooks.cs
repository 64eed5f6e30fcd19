using Kirisame.Broker.Sessions;
using Kirisame.Protocol.Packets;

namespace Kirisame.Broker;

/// What a cluster node needs to hear from the broker once per connection (never per message): whether new
/// connections may be accepted, and which clients hold their id here with which will, so that the other nodes can
/// publish those wills if this node dies (docs/adr/0020). Null in a single node.
internal interface IClusterHooks
{
    /// Why a new CONNECT is refused now (the node cannot see the cluster's membership, so it cannot promise that a
    /// client id is held once), or null while connects are accepted.
    public string? ConnectRefusal { get; }

    /// A CONNECT's claim of a client id, before the broker attaches a session to it: a holder the claim displaced on
    /// another node is closed there, and without <paramref name="cleanStart"/> the session it leaves is brought here
    /// first, so that the attach continues it (Session Present, [MQTT-3.2.2-3]). Returns why the session cannot be
    /// had now (its node died and no live node has taken its sessions up yet), or null to go on.
    public Task<string?> TakeOverAsync(SessionClaim claim, bool cleanStart);

    /// A network client holds <paramref name="clientId"/> on this node under <paramref name="epoch"/>.
    public void Held(string clientId, long epoch, WillMessage? will);

    /// The holder of <paramref name="clientId"/> under <paramref name="epoch"/> let go (its will, if due, is being
    /// published here).
    public void Released(string clientId, long epoch);
}
