using System.Buffers;
using System.Collections.Concurrent;
using Kirisame.Broker;
using Kirisame.Broker.Delivery;
using Kirisame.Broker.Sessions;
using Kirisame.Cluster.Grains;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Primitives;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Kirisame.Cluster;

/// This broker as a node of a cluster (docs/adr/0020): a <see cref="PeerLink"/> per other member, kept in step with
/// Orleans' membership; the routes of this node's clients (<see cref="LocalRoutes"/>) sent to every other node; what
/// the others send routed here; the clients held here with their wills, which the others publish if this node dies.
internal sealed partial class ClusterNode : IClusterHooks, IDisposable
{
    /// Client ids of the sessions standing for other nodes. U+0000 cannot be in a network client's id [MQTT-1.5.4-2], so
    /// no client can take one over, and the registry keeps such ids on the node.
    public const string NodeSessionPrefix = "\0cluster:";

    /// How long a take-over waits for each call to the node that held the client id.
    private static readonly TimeSpan s_takeOverTimeout = TimeSpan.FromSeconds(10);

    private readonly ClusterStore _store;
    private readonly IClusterMembershipService _membership;
    private readonly IGrainFactory _grains;
    private readonly ClusterSessionRegistry? _registry;
    private readonly MembershipWatch _watch;
    private readonly Lock _peersLock = new();
    private readonly ConcurrentDictionary<string, PeerLink> _peers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _gone = new(StringComparer.Ordinal);
    private readonly Lock _heldLock = new();
    private readonly Dictionary<string, (long Epoch, byte[]? Will)> _held = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();

    /// The default tenant's node: the server's broker.
    public ClusterNode(MqttBroker broker, ClusterStore store, ClusterSettings settings, ILocalSiloDetails silo, IClusterMembershipService membership,
        IGrainFactory grains, IMembershipTable table, Broker.Sessions.ISessionRegistry registry, ILoggerFactory loggers, ClusterTenants tenants)
        : this(broker, store, registry as ClusterSessionRegistry, membership, grains, silo.SiloAddress, loggers.CreateLogger("Kirisame.Cluster"), tenant: null,
            tenants, logger => new MembershipWatch(table, settings, broker.TimeProvider, logger))
    {
    }

    /// A tenant's node (docs/adr/0021, "In a cluster"): the tenant's core, store and share of the registry, linked to
    /// the same tenant's node on each other node; the membership and its watch are the default node's.
    internal ClusterNode(ClusterNode @default, MqttBroker core, ClusterStore store, ClusterSessionRegistry registry)
        : this(core, store, registry, @default._membership, @default._grains, @default.SiloAddress, @default.Logger, core.TenantName, @default.Tenants,
            _ => @default._watch)
    {
    }

    private ClusterNode(MqttBroker broker, ClusterStore store, ClusterSessionRegistry? registry, IClusterMembershipService membership, IGrainFactory grains,
        SiloAddress silo, ILogger logger, string? tenant, ClusterTenants tenants, Func<ILogger, MembershipWatch> watch)
    {
        Broker = broker;
        _store = store;
        _membership = membership;
        _grains = grains;
        _registry = registry;
        Logger = logger;
        Tenant = tenant;
        Tenants = tenants;
        _watch = watch(logger);
        SiloAddress = silo;
        Self = silo.ToParsableString();
        Routes = new LocalRoutes(() => _peers.Values);
        if (_registry is not null)
            _registry.KeepsSession = (clientId, epoch) => Broker.FindSession(clientId) is { } session && session.Epoch == epoch;
        Moves = new SessionMoves(this, _registry);
        // The default tenant's sessions only: a tenant's store folder is not in the shared folder (docs/adr/0020).
        if (tenant is null && store.Shared is { } shared && _registry is not null)
        {
            Dead = new DeadNodeSessions(this, _registry, shared);
            _registry.WaitForAdoption = Dead.AdopterOfAsync;
        }
    }

    /// With a shared store (Cluster:SharedStore), the persistent sessions of dead nodes taken up here; null without.
    public DeadNodeSessions? Dead { get; }

    /// The tenant whose node this is; null for the default tenant's.
    public string? Tenant { get; }

    /// The tenants' nodes, the default one's and every tenant's.
    public ClusterTenants Tenants { get; }

    /// The inbox of the node at <paramref name="address"/> for this node's tenant.
    public INodeInbox InboxAt(string address) => _grains.GetGrain<INodeInbox>(NodeInboxKey.Of(address, Tenant));

    /// Persistent sessions moving to and from this node.
    public SessionMoves Moves { get; }

    public MqttBroker Broker { get; }

    public ILogger Logger { get; }

    public SiloAddress SiloAddress { get; }

    /// This silo's address with its generation, as the other nodes key it.
    public string Self { get; }

    public ForwardTracker Forwards => _store.Forwards;

    public LocalRoutes Routes { get; }

    public string? ConnectRefusal => _watch.Refusal;

    /// Network clients connected here now.
    public long ConnectedClients => Interlocked.Read(ref Broker.Statistics.ClientsConnected);

    /// Other nodes this one is linked to now.
    public int PeerCount => _peers.Count;

    public async Task StartAsync()
    {
        Broker.Cluster = this;
        _store.Node = this;
        Routes.Start(Broker.Subscriptions.Observe(Routes));
        await ReconcileAsync(_membership.CurrentSnapshot);
        await PullRetainedAsync();
        _ = Task.Run(() => FollowMembershipAsync(_stopping.Token));
        if (Tenant is null)
        {
            _ = Task.Run(() => _watch.RunAsync(_stopping.Token));
            Logger.LogInformation("Cluster: node {Node} up, {Peers} other node(s)", SiloAddress, _peers.Count);
            Tenants.DefaultStarted(this);
        }
        else
        {
            Logger.LogInformation("Cluster: tenant {Tenant} linked to {Peers} other node(s)", Tenant, _peers.Count);
        }
    }

    /// <paramref name="evacuate"/> false: a removed tenant's node leaves, and its sessions go with the tenant.
    public async Task StopAsync(bool evacuate = true)
    {
        // Persistent sessions left here go to the live nodes first, while this one still answers (docs/adr/0020); the
        // tenants' nodes at the same time, each handing its own on, so that all of them fit the one time limit.
        var evacuation = evacuate
            ? Moves.EvacuateAsync([.. _membership.CurrentSnapshot.Members.Values
                .Where(m => m.Status == SiloStatus.Active && !m.SiloAddress.Equals(SiloAddress)).Select(m => m.SiloAddress.ToParsableString())
                .Where(_peers.ContainsKey)])
            : Task.CompletedTask;
        await Task.WhenAll(evacuation, Tenant is null ? Tenants.StopAsync() : Task.CompletedTask);
        // The broker has stopped (its clients gone, their wills published here): the other nodes hear so first, or
        // they would publish those wills again once this node leaves.
        await Task.WhenAll(_peers.Values.Select(peer => peer.DrainAsync(TimeSpan.FromSeconds(3))));
        await _stopping.CancelAsync();
        foreach (var peer in _peers.Values)
            await peer.CloseAsync();
    }

    public void Dispose() => _stopping.Dispose();

    private async Task FollowMembershipAsync(CancellationToken token)
    {
        try
        {
            await foreach (var snapshot in _membership.MembershipUpdates.WithCancellation(token))
                await ReconcileAsync(snapshot);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            Logger.LogError(ex, "Cluster: following the membership failed");
        }
    }

    /// Links to every active member; drops the dead ones, publishing their clients' wills (one node does: the lowest
    /// address among the live ones) and stating again to the registry what this node holds.
    private async Task ReconcileAsync(ClusterMembershipSnapshot snapshot)
    {
        foreach (var member in snapshot.Members.Values)
        {
            if (member.Status == SiloStatus.Active && !member.SiloAddress.Equals(SiloAddress))
                GetOrAddPeer(member.SiloAddress.ToParsableString());
        }

        var died = false;
        foreach (var (key, peer) in _peers)
        {
            var address = SiloAddress.FromParsableString(key);
            if (snapshot.GetSiloStatus(address) != SiloStatus.Dead)
                continue;
            died = true;
            await RemovePeerAsync(key, peer, snapshot);
        }

        if (died && _registry is not null)
        {
            var held = HeldRecords(partition: null);
            var connected = held.Count(h => !h.Offline);
            // Calls to partitions that were on the dead silo can fail until Orleans has placed them again: try a few times.
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await _registry.ReassertAsync(held);
                    Logger.LogInformation("Cluster: stated {Connected} connected client(s) and {Offline} offline session(s) held here to the registry again",
                        connected, held.Count - connected);
                    break;
                }
                catch (Exception ex) when (attempt < 10)
                {
                    Logger.LogInformation("Cluster: stating this node's {Count} clients to the registry failed ({Error}); trying again", held.Count, ex.Message);
                    await Task.Delay(TimeSpan.FromSeconds(1));
                }
                catch (Exception ex)
                {
                    Logger.LogWarning("Cluster: stating this node's {Count} clients to the registry failed: {Error}", held.Count, ex.Message);
                    break;
                }
            }
        }
    }

    /// What this node holds, as the registry records it (ids as this node's clients know them): the clients connected
    /// here, and the persistent sessions kept here without a connection (offline records, so that a claim on another
    /// node still finds the session here to move it). Only the ids of registry partition <paramref name="partition"/>
    /// when given.
    internal List<HolderRecord> HeldRecords(long? partition)
    {
        if (_registry is null)
            return [];
        List<HolderRecord> held;
        lock (_heldLock)
            held = [.. _held.Where(h => InPartition(h.Key)).Select(h => new HolderRecord(h.Key, h.Value.Epoch, Self, ""))];
        var connected = held.Select(h => h.ClientId).ToHashSet(StringComparer.Ordinal);
        held.AddRange(Broker.OfflineSessions().Where(s => !connected.Contains(s.ClientId) && InPartition(s.ClientId))
            .Select(s => new HolderRecord(s.ClientId, s.Epoch, Self, "", Offline: true)));
        return held;

        bool InPartition(string clientId) => partition is not { } p || _registry.PartitionOfClient(clientId) == p;
    }

    /// What this server's nodes — the default tenant's (this one) and every tenant's — hold in registry partition
    /// <paramref name="partition"/>, with the ids as the partitions know them: a partition's new activation asks.
    internal List<HolderRecord> HeldIn(long partition) =>
        [.. new[] { this }.Concat(Tenants.All()).SelectMany(node => node._registry?.Keyed(node.HeldRecords(partition)) ?? [])];

    /// The active member at silo endpoint <paramref name="endpoint"/> ("ip:port"), if there is one: a node restarted there.
    public string? ActiveMemberAt(string endpoint) =>
        _membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress.ToParsableString())
            .FirstOrDefault(address => SharedStore.EndpointOf(address) == endpoint);

    /// The dead nodes whose persistent sessions this node has not seen taken up yet (none without a shared store).
    internal List<string> AwaitingAdoption() => Dead is { } dead ? [.. _gone.Keys.Where(gone => !dead.IsAdopted(gone))] : [];

    private PeerLink GetOrAddPeer(string address)
    {
        if (_peers.TryGetValue(address, out var peer))
            return peer;
        lock (_peersLock)
        {
            if (_peers.TryGetValue(address, out peer))
                return peer;
            peer = new PeerLink(this, address, InboxAt(address));
            _peers[address] = peer;
        }

        Logger.LogInformation("Cluster: node {Node} joined{Tenant}", address, Tenant is null ? "" : $" (tenant {Tenant})");
        _ = peer.StartAsync();
        return peer;
    }

    /// Another node found <paramref name="address"/> dead before this one did (<see cref="DeadNodeSessions"/>).
    internal Task RemoveDeadPeerAsync(string address) =>
        _peers.TryGetValue(address, out var peer) ? RemovePeerAsync(address, peer, _membership.CurrentSnapshot) : Task.CompletedTask;

    private async Task RemovePeerAsync(string key, PeerLink peer, ClusterMembershipSnapshot snapshot)
    {
        lock (_peersLock)
        {
            if (!_peers.TryRemove(key, out _))
                return;
            _gone.TryAdd(key, 0);
        }

        if (Dead is { } holding)
        {
            await peer.HoldAsync(); // its routes stay until the node that takes its sessions up has its own here
            holding.Hold(key, peer);
        }
        else
        {
            await peer.CloseAsync(died: true);
        }
        var live = snapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress.ToParsableString())
            .Append(Self).Order(StringComparer.Ordinal).First();
        List<WillEntry> wills;
        lock (peer.Wills)
            wills = [.. peer.Wills.Values.Where(w => w.Will is not null)];
        Logger.LogWarning("Cluster: node {Node} is dead; its routes are dropped{Wills}", key,
            live == Self ? $", and the wills of its {wills.Count} client(s) published here" + (Dead is null ? "" : "; its persistent sessions are taken up here") : "");
        if (live != Self)
            return;
        if (Dead is { } dead)
            _ = Task.Run(() => dead.AdoptAsync(key, _stopping.Token));
        foreach (var will in wills)
        {
            foreach (var publish in PublishPackets.Read(will.Will!))
                Route(publish, will.ClientId);
        }
    }

    // ---- IClusterHooks: clients held here ----

    public void Held(string clientId, long epoch, WillMessage? will)
    {
        var encoded = will is null ? null : PublishPackets.Encode(will);
        lock (_heldLock)
        {
            _held[clientId] = (epoch, encoded);
            if (encoded is not null)
            {
                foreach (var peer in _peers.Values)
                    peer.EnqueueWill(new WillEntry(clientId, epoch, encoded));
            }
        }
    }

    public void Released(string clientId, long epoch)
    {
        lock (_heldLock)
        {
            if (!_held.TryGetValue(clientId, out var held) || held.Epoch != epoch)
                return;
            _held.Remove(clientId);
            if (held.Will is not null)
            {
                foreach (var peer in _peers.Values)
                    peer.EnqueueWill(new WillEntry(clientId, epoch, null));
            }
        }
    }

    /// The wills of the clients held here, for <paramref name="peer"/>'s next batch; changes queued after follow it.
    public List<WillEntry> HeldSnapshotFor(PeerLink peer)
    {
        lock (_heldLock)
        {
            peer.WillsSnapshotTaken();
            return [.. _held.Where(h => h.Value.Will is not null).Select(h => new WillEntry(h.Key, h.Value.Epoch, h.Value.Will))];
        }
    }

    // ---- inward: the NodeInbox grain's calls ----

    public async Task ReceiveAsync(NodeBatch batch)
    {
        if (_gone.ContainsKey(batch.From))
            return; // declared dead here: what it still sends is not routed (its clients' wills were)
        var peer = GetOrAddPeer(batch.From);
        peer.ApplyRoutes(batch);
        peer.ApplyWills(batch);
        var durable = false;
        var shared = batch.Shared.Count == 0 ? null : batch.Shared.ToDictionary(d => d.Index);
        List<(PublishPacket Publish, SharedDelivery Group)>? unplaced = null;
        var relayedHere = batch.Relayed.Count == 0 ? null : batch.Relayed.ToHashSet();
        // Back-pressure across the link (docs/adr/0009): subscribers here that routing found behind are waited for, as
        // a publisher's read loop waits, before the call returns; the sender's next chunk, and its publishers, wait too.
        var gate = new IngestGate(null);
        Inbound.Begin();
        List<long>? relayed;
        try
        {
            using var routing = gate.Enter();
            var index = 0;
            foreach (var publish in PublishPackets.Read(batch.Messages))
            {
                var position = index++;
                durable |= publish.QoS != QualityOfService.AtMostOnce;
                Inbound.WasRelayed = relayedHere?.Contains(position) == true;
                if (shared is not null && shared.TryGetValue(position, out var group))
                {
                    // This node's share of the group: one of its own members, never passed on from here.
                    if (!RouteShared(publish, group, IsLocal))
                        (unplaced ??= []).Add((publish, group));
                    continue;
                }

                var topic = peer.Topics.Get(publish.Topic.Span, out var topicUtf8);
                Broker.PublishForwarded(publish, topic, topicUtf8, Broker.TimeProvider.GetTimestamp());
            }
        }
        finally
        {
            relayed = Inbound.End();
        }

        // Its members here left meanwhile: another node's, but not back to the sender (outside Inbound, so the node
        // targets forward it).
        foreach (var (publish, group) in unplaced ?? [])
            RouteShared(publish, group, session => session != peer.Session);

        foreach (var topic in batch.RetainedRemoved)
        {
            Broker.Retained.Remove(topic);
            _store.Inner.DeleteRetained(topic);
        }

        if (gate.MustWait) // at most 10 s: past Orleans' 30 s response timeout the sender would send the batch again
            await Broker.BackPressure.WaitAsync(gate, Task.WhenAny(peer.Target.Finished, Task.Delay(TimeSpan.FromSeconds(10))));

        // Accepted means as durable here as a PUBACK from this node would promise: the sender acknowledges after this.
        if (durable)
            await WhenStoredAsync();
        // And what was relayed on to a node a session moved to has been accepted there.
        if (relayed is not null)
            await Forwards.WhenDoneAsync(relayed);
    }

    /// The other nodes linked now.
    public List<string> PeerAddresses() => [.. _peers.Keys];

    /// The link to <paramref name="address"/>, if that node is linked.
    public PeerLink? PeerOf(string address) => _peers.GetValueOrDefault(address);

    /// INodeInbox.Flush: what is queued for the other nodes now has been accepted (or the wait gave up).
    public Task FlushAsync() => Task.WhenAll(_peers.Values.Select(peer => peer.FlushAsync(TimeSpan.FromSeconds(5))));

    /// The shared-group messages a dead node had not accepted (<paramref name="packets"/>, positions in
    /// <paramref name="groups"/>): each to another member of its group, here or on another node.
    public void RedeliverShared(ReadOnlyMemory<byte> packets, List<SharedDelivery> groups, Broker.Sessions.Session? dead)
    {
        var byIndex = groups.ToDictionary(d => d.Index);
        var index = 0;
        var redelivered = 0;
        foreach (var publish in PublishPackets.Read(packets))
        {
            if (byIndex.TryGetValue(index++, out var group) && RouteShared(publish, group, session => session != dead))
                redelivered++;
        }

        Logger.LogInformation("Cluster: {Count} shared-subscription message(s) the dead node had not accepted given to other members", redelivered);
    }

    private bool RouteShared(in PublishPacket publish, SharedDelivery group, Func<Broker.Sessions.Session, bool> eligible)
    {
        var topic = System.Text.Encoding.UTF8.GetString(publish.Topic.Span);
        return Broker.PublishToSharedMember(publish, topic, publish.Topic, group.ShareName, group.TopicFilter, eligible, Broker.TimeProvider.GetTimestamp());
    }

    private static bool IsLocal(Broker.Sessions.Session session) => !session.ClientId.StartsWith(NodeSessionPrefix, StringComparison.Ordinal);

    private void Route(in PublishPacket publish, string sender)
    {
        var topic = System.Text.Encoding.UTF8.GetString(publish.Topic.Span);
        Broker.Publish(publish, publish.QoS, publish.Retain, topic, publish.Topic, sender, Broker.TimeProvider.GetTimestamp());
    }

    internal Task WhenStoredAsync()
    {
        var store = _store.Inner;
        var mark = store.Mark();
        if (store.IsDurable(mark))
            return Task.CompletedTask;
        var stored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.WhenDurable(mark, static state => ((TaskCompletionSource)state!).TrySetResult(), stored);
        return stored.Task;
    }
}
