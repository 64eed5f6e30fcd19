using System.Collections.Concurrent;
using Kirisame.Broker.Delivery;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;
using Kirisame.Protocol.Primitives;
using Microsoft.Extensions.Logging;

namespace Kirisame.Cluster;

/// The persistent sessions of a node that died, taken up by a live node from the shared store (Cluster:SharedStore,
/// docs/adr/0020 "Persistent sessions across the loss of their node"). Three parties, each node playing all of them:
/// - the adopter (the lowest live node, as for the dead node's wills) opens the dead node's store folder — only once
///   that process is gone, since it holds the folder's lock until then — restores every session in it here, moves
///   their registry records here, deletes them from that folder, and forgets the rest of the dead node's records;
/// - every node holds its link to the dead one (<see cref="PeerLink.HoldAsync"/>): what the dead node had not accepted,
///   and what is routed to its routes meanwhile, waits there, the publishers' PUBACKs with it; once the sessions and
///   their routes are here, the link ends and what it gathered goes to the adopter, which gives it to the taken-up
///   sessions only (the others had their copies); then the publishers are acknowledged;
/// - a CONNECT that finds its session recorded on the dead node (or on a node that does not answer) waits for the
///   adoption, then continues through the adopter like any move from a live node; past a limit it is refused with
///   Server unavailable, and its client tries again.
/// A message the dead node had accepted is in its store (its acceptance waited for the store's commit, as a PUBACK
/// does, with Storage:Durability sync), so the adopter has it: with the held ones, nothing acknowledged is lost.
internal sealed class DeadNodeSessions(ClusterNode node, ClusterSessionRegistry registry, SharedStore shared)
{
    /// How long messages for a dead node are held for its adopter before they are given up (logged as an error): the
    /// publishers' acknowledgements wait meanwhile.
    private static readonly TimeSpan s_holdLimit = TimeSpan.FromSeconds(60);

    /// How long a CONNECT waits for the adoption of its session before it is refused (Server unavailable).
    private static readonly TimeSpan s_claimWait = TimeSpan.FromSeconds(10);

    /// How long a session taken up here whose client id was claimed on another node meanwhile waits for that node to
    /// take it (or discard it, on clean start) before it is deleted here.
    private static readonly TimeSpan s_unclaimedLimit = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<string, TaskCompletionSource<string>> _adopters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, HashSet<string>> _adoptedFrom = new(StringComparer.Ordinal);
    private readonly Lock _heldLock = new();
    private readonly Dictionary<string, PeerLink> _held = new(StringComparer.Ordinal);

    // ---- every node: its link to the dead one ----

    /// Keeps the link to <paramref name="dead"/>, held (<see cref="PeerLink.HoldAsync"/>), until its sessions are taken up.
    public void Hold(string dead, PeerLink link)
    {
        lock (_heldLock)
            _held[dead] = link;
        _ = GiveUpLaterAsync(dead);
    }

    private bool IsHeld(string dead)
    {
        lock (_heldLock)
            return _held.ContainsKey(dead);
    }

    private PeerLink? TakeHeld(string dead)
    {
        lock (_heldLock)
            return _held.Remove(dead, out var link) ? link : null;
    }

    private async Task GiveUpLaterAsync(string dead)
    {
        await Task.Delay(s_holdLimit);
        if (TakeHeld(dead) is not { } link)
            return;
        var left = link.End(died: true);
        foreach (var chunk in left)
            node.Forwards.Done(chunk.Sequences);
        node.Logger.LogError("Cluster: {Count} QoS 1/2 message(s) for dead node {Node} were given up: no node took up its sessions within {Seconds} s",
            left.Sum(h => h.Sequences.Count), dead, s_holdLimit.TotalSeconds);
    }

    /// INodeInbox.SendHeld: the sessions of <paramref name="dead"/> are on <paramref name="adopter"/> now, and its routes
    /// for them here; the held link ends, and what it had for the dead node goes there — its publishers acknowledged
    /// once that has been accepted.
    public async Task SendHeldAsync(string dead, string adopter)
    {
        // The adopter saw the death in the member list; this node may not have read it yet, and its link would go on
        // retrying: it ends here as it would then.
        if (!IsHeld(dead))
            await node.RemoveDeadPeerAsync(dead);
        if (TakeHeld(dead) is not { } link)
            return;
        var sent = 0;
        foreach (var chunk in link.End(died: true))
        {
            try
            {
                if (adopter == node.Self)
                    await ReceiveHeldAsync(dead, chunk.Messages, chunk.SharedPositions);
                else
                    await node.InboxAt(adopter).ReceiveHeld(dead, chunk.Messages.ToArray(), [.. chunk.SharedPositions]);
                sent += chunk.Sequences.Count;
            }
            catch (Exception ex)
            {
                node.Logger.LogError("Cluster: {Count} QoS 1/2 message(s) for the sessions of dead node {Node} could not be given to node {Adopter}, which took them up: {Error}",
                    chunk.Sequences.Count, dead, adopter, ex.Message);
            }
            finally
            {
                node.Forwards.Done(chunk.Sequences);
            }
        }

        node.Logger.LogInformation("Cluster: {Count} QoS 1/2 message(s) for dead node {Node} given to its sessions on node {Adopter}", sent, dead, adopter);
    }

    /// INodeInbox.ReceiveHeld, on the adopter: to the sessions taken up from <paramref name="dead"/> only. Returns once
    /// they are as durable as a PUBACK from here promises.
    public Task ReceiveHeldAsync(string dead, ReadOnlyMemory<byte> messages, ICollection<int> sharedPositions)
    {
        // A node restarted on the dead one's endpoint took its own sessions up from its own folder.
        Func<Session, bool> eligible = _adoptedFrom.TryGetValue(dead, out var adopted) ? s => adopted.Contains(s.ClientId)
            : SharedStore.EndpointOf(dead) == SharedStore.EndpointOf(node.Self) ? s => !s.ClientId.Contains('\0', StringComparison.Ordinal)
            : _ => false;
        var index = 0;
        var broker = node.Broker;
        foreach (var publish in PublishPackets.Read(messages))
        {
            if (sharedPositions.Contains(index++))
                continue;
            var topic = System.Text.Encoding.UTF8.GetString(publish.Topic.Span);
            broker.PublishForwardedTo(publish, topic, publish.Topic, eligible, broker.TimeProvider.GetTimestamp());
        }

        return node.WhenStoredAsync();
    }

    // ---- a CONNECT whose session is on a dead node ----

    /// The node that took up <paramref name="dead"/>'s sessions, once it has; null if that takes longer than the limit.
    public async Task<string?> AdopterOfAsync(string dead)
    {
        try
        {
            return await Adopter(dead).Task.WaitAsync(s_claimWait);
        }
        catch (TimeoutException)
        {
            return null;
        }
    }

    /// Whether this node has heard that <paramref name="dead"/>'s sessions were taken up.
    public bool IsAdopted(string dead) => _adopters.TryGetValue(dead, out var adopter) && adopter.Task.IsCompleted;

    /// INodeInbox.Adopted: <paramref name="adopter"/> has <paramref name="dead"/>'s sessions.
    public void Adopted(string dead, string adopter) => Adopter(dead).TrySetResult(adopter);

    private TaskCompletionSource<string> Adopter(string dead) =>
        _adopters.GetOrAdd(dead, _ => new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously));

    // ---- the adopter ----

    /// Takes up the sessions of <paramref name="dead"/> (this node was chosen), then lets every node go on: first the
    /// messages held for them, then the CONNECTs waiting.
    public async Task AdoptAsync(string dead, CancellationToken stopping)
    {
        var started = node.Broker.TimeProvider.GetTimestamp();
        var folder = shared.FolderOf(dead);
        var adopter = node.Self;
        HashSet<string> adopted = new(StringComparer.Ordinal);
        try
        {
            if (Directory.Exists(folder))
            {
                var (store, restarted) = await OpenAsync(folder, dead, stopping);
                if (store is not null)
                {
                    try
                    {
                        adopted = await TakeSessionsAsync(store, dead);
                    }
                    finally
                    {
                        await store.DisposeAsync();
                    }
                }

                adopter = restarted ?? adopter;
            }

            if (adopter == node.Self)
                await registry.ForgetAsync(dead);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            node.Logger.LogError(ex, "Cluster: taking up the persistent sessions of dead node {Node} from {Folder} failed", dead, folder);
        }

        _adoptedFrom[dead] = adopted;
        // The routes of the sessions taken up are at every node before their links to the dead one end.
        await node.FlushAsync();
        var peers = node.PeerAddresses();
        await Task.WhenAll(peers.Select(peer => CallAsync(peer, () => node.InboxAt(peer).SendHeld(dead, adopter))).Append(SendHeldAsync(dead, adopter)));
        Adopted(dead, adopter);
        await Task.WhenAll(peers.Select(peer => CallAsync(peer, () => node.InboxAt(peer).Adopted(dead, adopter))));
        node.Logger.LogInformation("Cluster: {Count} persistent session(s) of dead node {Node} taken up {Where} in {Milliseconds} ms", adopted.Count, dead,
            adopter == node.Self ? "here" : $"by node {adopter} (restarted on its endpoint)", (long)node.Broker.TimeProvider.GetElapsedTime(started).TotalMilliseconds);
    }

    /// Opens the dead node's folder once its process has let go of it — or returns the node restarted on its endpoint,
    /// which has its folder (and its sessions) itself.
    private async Task<(IBrokerStore? Store, string? Restarted)> OpenAsync(string folder, string dead, CancellationToken stopping)
    {
        for (var attempt = 0; ; attempt++)
        {
            if (shared.Open(folder) is { } store)
                return (store, null);
            if (node.ActiveMemberAt(SharedStore.EndpointOf(dead)) is { } restarted && restarted != dead)
                return (null, restarted);
            if (attempt == 0)
            {
                node.Logger.LogWarning("Cluster: the store of dead node {Node} ({Folder}) is still held by a process (frozen, or not dead yet); trying every second",
                    dead, folder);
            }

            await Task.Delay(TimeSpan.FromSeconds(1), stopping);
        }
    }

    /// Restores every session of the dead node's store here and deletes it there. A session whose client id was
    /// claimed on another node meanwhile is restored too: that claim waits for this adoption and takes the session
    /// from here (or discards it, with clean start).
    private async Task<HashSet<string>> TakeSessionsAsync(IBrokerStore store, string dead)
    {
        var state = store.Load();
        var adopted = new HashSet<string>(StringComparer.Ordinal);
        var unrecorded = new List<string>();
        foreach (var stored in state.Sessions)
        {
            if (stored.ClientId.Contains('\0', StringComparison.Ordinal))
                continue; // the dead node's own sessions for other nodes: nobody's to continue
            await stored.ReadStoredPendingAsync(store); // the dead node's store goes: its queue whole
            var epoch = await MoveAsync(stored.ClientId, dead);
            if (epoch == 0)
                unrecorded.Add(stored.ClientId);
            // Epoch 1 for an unrecorded one: below every claim's, so the claim that waits for it takes it.
            if (node.Broker.AdoptSession(stored, epoch == 0 ? 1 : epoch))
                adopted.Add(stored.ClientId);
        }

        await node.WhenStoredAsync(); // here as durable as a PUBACK promises before the dead node's copies go
        foreach (var stored in state.Sessions)
            store.DeleteSession(stored.ClientId);
        if (unrecorded.Count > 0)
            _ = DeleteUnclaimedLaterAsync(unrecorded);
        return adopted;
    }

    /// The registry record of <paramref name="clientId"/>, moved here from the dead node: partitions that were on it are
    /// being placed again, and calls to them fail meanwhile, so a few tries.
    private async Task<long> MoveAsync(string clientId, string dead)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await registry.MoveAsync(clientId, dead).WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception ex) when (attempt < 10)
            {
                if (attempt == 1)
                    node.Logger.LogInformation("Cluster: recording client {ClientId} here failed ({Error}); trying again", MqttText.Quote(clientId), ex.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(500));
            }
        }
    }

    private async Task DeleteUnclaimedLaterAsync(List<string> clientIds)
    {
        await Task.Delay(s_unclaimedLimit);
        foreach (var clientId in clientIds)
        {
            if (node.Broker.FindSession(clientId) is { Owner: null, Epoch: 1 })
                await node.Broker.Admin.DeleteSessionAsync(clientId);
        }
    }

    private async Task CallAsync(string peer, Func<Task> call)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await call().WaitAsync(TimeSpan.FromSeconds(30));
                return;
            }
            catch (Exception ex) when (attempt < 3)
            {
                node.Logger.LogInformation("Cluster: telling node {Node} about a dead node's sessions failed ({Error}); trying again", peer, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
            catch (Exception ex)
            {
                node.Logger.LogWarning("Cluster: telling node {Node} about a dead node's sessions failed: {Error}", peer, ex.Message);
                return;
            }
        }
    }
}
