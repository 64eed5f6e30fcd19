using Kirisame.Cluster.Grains;
using Kirisame.Protocol;
using Kirisame.Protocol.Primitives;
using Microsoft.Extensions.Logging;

namespace Kirisame.Cluster;

/// Client ids taken over across nodes: kicks, hand-overs, and the claims of sessions whose node died.
internal sealed partial class ClusterNode
{
    /// Another node claimed <paramref name="clientId"/> with clean start: the connection holding it here under an older
    /// (or the same) epoch is closed with Session taken over (0x8E, [MQTT-3.1.4-3]), and the session it leaves is
    /// discarded [MQTT-3.1.2-4] — the id lives on the other node now.
    public async Task KickAsync(string clientId, long epoch)
    {
        await Moves.SettledAsync(clientId); // a session on its way here from a node shutting down goes too
        var session = Broker.FindSession(clientId);
        if (session is null || session.Epoch > epoch)
            return;
        if (session.Owner is { } owner)
        {
            Logger.LogInformation("Client {ClientId} connected on another node; closing its connection here", MqttText.Quote(clientId));
            owner.RequestClose(ReasonCode.SessionTakenOver);
            await Task.WhenAny(owner.Finished, Task.Delay(TimeSpan.FromSeconds(5)));
        }

        if (Broker.FindSession(clientId) is { Owner: null } left && left.Epoch <= epoch)
            await Broker.Admin.DeleteSessionAsync(clientId);
    }

    /// Another node claimed <paramref name="clientId"/> with clean start 0: the session leaves this broker for it.
    public Task<SessionTransfer?> HandOverAsync(string clientId, long epoch) => Moves.HandOverAsync(clientId, epoch);

    public Task HandedOver(string clientId)
    {
        Broker.HandedOver(clientId);
        return Task.CompletedTask;
    }

    /// IClusterHooks: the holder a claim displaced on another node is closed there; with clean start 0 its session comes
    /// here — restored into the broker and as durable as this node's store promises — before the other node lets go of
    /// its copy and before the broker attaches it (docs/adr/0020). A holder on a node declared dead: without a shared
    /// store its sessions died with it, and the claim goes on; with one, the claim waits for the node that takes them up
    /// and continues from there. A node that does not answer is dead or cut off: without a shared store the claim goes
    /// on without it (its connection is fenced by the epoch; its session is lost unless a later claim reaches it); with
    /// one it is waited for as a dead node, and the CONNECT refused if that takes too long.
    public async Task<string?> TakeOverAsync(Broker.Sessions.SessionClaim claim, bool cleanStart)
    {
        // A session coming here from a node that shuts down is here whole before its client's claim goes on.
        await Moves.SettledAsync(claim.Lease.ClientId);
        if (claim.Previous is not { } previous || previous.Holder.Node == Self)
            return null;
        var holder = previous.Holder.Node;
        if (_gone.ContainsKey(holder))
        {
            if (Dead is null)
                return null;
            if (await Dead.AdopterOfAsync(holder) is not { } adopter)
                return await GiveWayAsync(claim, previous);
            if (adopter == Self)
                return null; // taken up here: the broker has it
            holder = adopter;
        }

        var clientId = claim.Lease.ClientId;
        var epoch = claim.Lease.Epoch;
        try
        {
            var inbox = InboxAt(holder);
            if (cleanStart)
                await inbox.Kick(clientId, epoch).WaitAsync(s_takeOverTimeout);
            else
                await Moves.PullAsync(inbox, clientId, epoch);
            return null;
        }
        catch (Exception ex)
        {
            Logger.LogWarning("Cluster: could not take client {ClientId} over from node {Node}: {Error}", MqttText.Quote(clientId), holder, ex.Message);
            if (Dead is null || cleanStart)
                return null;
            if (holder != previous.Holder.Node)
                return await GiveWayAsync(claim, previous); // the node that took the session up does not answer
        }

        // Not answering: a death not declared yet, as far as this claim can tell. Its sessions are waited for.
        if (await Dead.AdopterOfAsync(holder) is not { } taker)
            return await GiveWayAsync(claim, previous);
        if (taker == Self)
            return null;
        try
        {
            await Moves.PullAsync(InboxAt(taker), clientId, epoch);
            return null;
        }
        catch (Exception ex)
        {
            Logger.LogWarning("Cluster: could not take client {ClientId} over from node {Node}: {Error}", MqttText.Quote(clientId), taker, ex.Message);
            return await GiveWayAsync(claim, previous);
        }
    }

    /// The claim cannot have its session now: the registry record goes back to where the session is, for the client's
    /// next try, and the CONNECT is refused.
    private async Task<string> GiveWayAsync(Broker.Sessions.SessionClaim claim, Broker.Sessions.SessionLease previous)
    {
        try
        {
            await _registry!.RestoreAsync(claim.Lease, previous);
        }
        catch (Exception ex)
        {
            Logger.LogWarning("Cluster: could not give client {ClientId}'s registry record back: {Error}", MqttText.Quote(claim.Lease.ClientId), ex.Message);
        }

        return $"its session is on node {previous.Holder.Node}, which died or does not answer, and no live node has taken it up yet";
    }
}
