using System.Collections.Concurrent;
using Kirisame.Broker.Storage;
using Kirisame.Cluster.Grains;
using Kirisame.Protocol.Primitives;
using Microsoft.Extensions.Logging;

namespace Kirisame.Cluster;

/// Persistent sessions moving between nodes (docs/adr/0020): pulled to the node where their client connects again, and
/// pushed off a node that shuts down (SIGTERM) to the live ones. Both ways one protocol, whose giving side keeps the
/// session live until the taker has it:
/// 1. the taker has the client id's registry record (a claim, or <see cref="ClusterSessionRegistry.MoveAsync"/>) and
///    calls HandOver on the old node, which copies the session and leaves it in place, still queueing;
/// 2. the taker adopts the copy (stored as durable as its PUBACKs promise), then calls TakeRest: the old node routes the
///    session's filters on to the taker (<see cref="RelayRoutes"/>), takes the session out, and returns what it queued
///    since the copy; the taker delivers that into the session;
/// 3. HandedOver: the old node deletes its stored copy.
/// Nothing routed to the old node during the move is lost: before step 2 the session there has it, after it the relay
/// sends it on (duplicates at QoS 1 are possible, loss is not).
internal sealed class SessionMoves(ClusterNode node, ClusterSessionRegistry? registry)
{
    /// How long a move waits for each call to the other node.
    private static readonly TimeSpan s_callTimeout = TimeSpan.FromSeconds(10);

    /// How long a node shutting down waits for each adoption or flush: an adoption is a few calls of milliseconds each,
    /// and a node that takes longer is taken as not answering.
    private static readonly TimeSpan s_evacuationCallTimeout = TimeSpan.FromSeconds(5);

    /// How long a node shutting down spends handing its sessions over: within the host's shutdown time (30 s).
    private static readonly TimeSpan s_evacuationLimit = TimeSpan.FromSeconds(20);

    /// Sessions handed over at once while a node shuts down.
    private const int EvacuationParallelism = 16;

    /// Sessions copied here and still live, by client id: the claim's epoch, the copy's last queue sequence, its filters.
    private readonly ConcurrentDictionary<string, (long Epoch, long LastSequence, string[] Filters)> _live = new(StringComparer.Ordinal);

    /// Sessions this node is adopting from a node that shuts down: a claim of the id here, or another node's hand-over
    /// of it, waits until the session is here whole.
    private readonly ConcurrentDictionary<string, Task> _adopting = new(StringComparer.Ordinal);

    private Kirisame.Broker.MqttBroker Broker => node.Broker;

    // ---- the node that has the session ----

    /// Step 1: the session, copied; it stays here until <see cref="TakeRestAsync"/>.
    public async Task<SessionTransfer?> HandOverAsync(string clientId, long epoch)
    {
        await SettledAsync(clientId);
        if (await Broker.HandOverSessionAsync(clientId, epoch, keepLive: true) is not { } stored)
            return null;
        _live[clientId] = (epoch, stored.LastSequence, [.. stored.Subscriptions.Select(s => s.Filter)]);
        var transfer = SessionTransfers.ToTransfer(stored, Broker.TimeProvider);
        transfer.Live = true;
        return transfer;
    }

    /// Step 2: the taker <paramref name="to"/> has the copy. Its filters are relayed there before the session leaves
    /// this node's topic tree, so that they never stop being routed; what the session queued since the copy is returned.
    public async Task<SessionTransfer?> TakeRestAsync(string clientId, string to)
    {
        if (!_live.TryRemove(clientId, out var live))
            return null;
        var relay = node.PeerOf(to)?.Relay;
        if (relay is not null)
            await relay.AddAsync(live.Filters);
        var stored = await Broker.HandOverSessionAsync(clientId, live.Epoch);
        if (relay is not null)
            _ = relay.RemoveAfterAsync(RoutesSettledAsync(to), live.Filters);
        if (stored is null)
            return null;
        var rest = new StoredSession(clientId) { ExpiryInterval = stored.ExpiryInterval, LastSequence = stored.LastSequence };
        rest.Queue.AddRange(stored.Queue.Where(entry => entry.Queued.Sequence > live.LastSequence));
        return SessionTransfers.ToTransfer(rest, Broker.TimeProvider);
    }

    /// Completes once the routes of node <paramref name="to"/> are at every node (it flushed its links), and what the
    /// others had queued for this node before they had them has arrived here (each flushed its links after that).
    private async Task RoutesSettledAsync(string to)
    {
        await FlushAsync([to]);
        await FlushAsync(node.PeerAddresses());
    }

    // ---- the node that takes it ----

    /// Steps 1–3 from the taker's side, for the claim (or move) of <paramref name="clientId"/> under <paramref name="epoch"/>.
    public async Task<bool> PullAsync(INodeInbox from, string clientId, long epoch)
    {
        var transfer = await from.HandOver(clientId, epoch).WaitAsync(s_callTimeout);
        if (transfer is null)
            return false;
        var adopted = Broker.AdoptSession(SessionTransfers.ToStored(transfer, Broker.TimeProvider), epoch);
        if (adopted)
            await node.WhenStoredAsync(); // before the old node lets go of anything
        // Refused only for a newer or connected session here, which is the id's now: the old copy goes either way.
        if (transfer.Live && await from.TakeRest(clientId, node.Self).WaitAsync(s_callTimeout) is { } rest && adopted)
        {
            if (Broker.DeliverHandedOver(SessionTransfers.ToStored(rest, Broker.TimeProvider)) > 0)
                await node.WhenStoredAsync();
        }

        await from.HandedOver(clientId).WaitAsync(s_callTimeout);
        return adopted;
    }

    /// A node shutting down (<paramref name="from"/>) gives this one the persistent session of <paramref name="clientId"/>.
    public async Task<bool> AdoptAsync(string clientId, string from)
    {
        if (registry is null)
            return false;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_adopting.TryAdd(clientId, done.Task))
            return false;
        try
        {
            var epoch = await registry.MoveAsync(clientId, from);
            return epoch != 0 && await PullAsync(node.InboxAt(from), clientId, epoch);
        }
        finally
        {
            _adopting.TryRemove(clientId, out _);
            done.SetResult();
        }
    }

    /// Completes once no adoption of <paramref name="clientId"/> is under way here.
    public Task SettledAsync(string clientId) => _adopting.TryGetValue(clientId, out var adopting) ? adopting : Task.CompletedTask;

    // ---- shutting down ----

    /// Hands every persistent session kept here without a connection to <paramref name="targets"/> (round robin), then
    /// waits until the routes of their new nodes are at every node and what the others had queued for this one has
    /// arrived (and been relayed): after that, nothing routed to a moved session comes here only. A target that does not
    /// answer (stalled, or dying) is left out from then on, and its session tried once at another: the shutdown must fit
    /// the host's time, and a node that does not answer would otherwise hold every one of its share for a call timeout.
    public async Task EvacuateAsync(IReadOnlyList<string> targets)
    {
        var sessions = Broker.OfflineSessions();
        if (sessions.Count == 0 || targets.Count == 0)
            return;
        var started = Broker.TimeProvider.GetTimestamp();
        var moved = 0;
        var failed = 0;
        var unanswered = new ConcurrentDictionary<string, byte>(StringComparer.Ordinal);
        using var limit = new CancellationTokenSource(s_evacuationLimit);
        try
        {
            var work = sessions.Select((session, index) => (session.ClientId, Index: index));
            await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = EvacuationParallelism, CancellationToken = limit.Token },
                async (item, _) =>
                {
                    for (var attempt = 0; attempt < 2; attempt++)
                    {
                        var live = targets.Where(t => !unanswered.ContainsKey(t)).ToList();
                        if (live.Count == 0)
                            break;
                        var target = live[(item.Index + attempt) % live.Count];
                        try
                        {
                            if (await node.InboxAt(target).Adopt(item.ClientId, node.Self).WaitAsync(s_evacuationCallTimeout, CancellationToken.None))
                                Interlocked.Increment(ref moved);
                            return;
                        }
                        catch (Exception ex)
                        {
                            unanswered.TryAdd(target, 0);
                            if (Interlocked.Increment(ref failed) <= 3)
                                node.Logger.LogWarning("Cluster: handing client {ClientId}'s session to node {Node} failed: {Error}", MqttText.Quote(item.ClientId),
                                    target, ex.Message);
                        }
                    }
                });
        }
        catch (OperationCanceledException)
        {
            node.Logger.LogWarning("Cluster: handing sessions over took longer than {Limit} s; the rest stay in this node's store", s_evacuationLimit.TotalSeconds);
        }

        // Twice: first the new nodes' routes reach every node; then whatever the others queued for this node before
        // they had those routes arrives here, and is relayed on, before this node goes.
        var answering = targets.Where(t => !unanswered.ContainsKey(t)).ToList();
        for (var round = 0; round < 2; round++)
            await FlushAsync(answering, s_evacuationCallTimeout);
        node.Logger.LogInformation("Cluster: {Moved} of {Count} persistent session(s) handed to other nodes in {Milliseconds} ms ({Failed} call(s) failed)", moved,
            sessions.Count, (long)Broker.TimeProvider.GetElapsedTime(started).TotalMilliseconds, failed);
    }

    private async Task FlushAsync(IReadOnlyList<string> targets, TimeSpan? timeout = null)
    {
        try
        {
            await Task.WhenAll(targets.Select(target => node.InboxAt(target).Flush().WaitAsync(timeout ?? s_callTimeout)));
        }
        catch (Exception ex)
        {
            node.Logger.LogWarning("Cluster: waiting for the other nodes to flush failed: {Error}", ex.Message);
        }
    }
}
