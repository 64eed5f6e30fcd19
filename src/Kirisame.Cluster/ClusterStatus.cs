using System.Diagnostics.Metrics;
using System.Globalization;
using Kirisame.Broker;
using Kirisame.Broker.Clients;
using Kirisame.Cluster.Grains;
using Kirisame.Protocol;
using Orleans.Runtime;

namespace Kirisame.Cluster;

/// One member as GET /api/v1/cluster lists it: connected clients when it answered within a second, else null.
internal sealed record ClusterMember(string Address, string Status, bool Self, long? ConnectedClients);

/// What the cluster looks like from this node, for operators: the members (GET /api/v1/cluster), the gauge
/// kirisame.cluster.nodes, and $SYS/broker/cluster/… published every Broker:SysInterval next to the broker's own $SYS
/// topics. Read on demand (each remote count is one grain call), never on a message's path.
internal sealed class ClusterStatus : IDisposable
{
    /// U+0000: no network client can take this session over [MQTT-1.5.4-2]; the admin API leaves such ids out.
    private const string SysClientId = "\0kirisame/$SYS/cluster";

    private static readonly TimeSpan s_answer = TimeSpan.FromSeconds(1);

    private readonly ClusterNode _node;
    private readonly ClusterSettings _settings;
    private readonly IClusterMembershipService _membership;
    private readonly IGrainFactory _grains;
    private readonly Meter _meter;

    public ClusterStatus(ClusterNode node, ClusterSettings settings, IClusterMembershipService membership, IGrainFactory grains)
    {
        _node = node;
        _settings = settings;
        _membership = membership;
        _grains = grains;
        // The broker's meter name: the server's /metrics exports every meter of that name (kirisame_cluster_nodes).
        _meter = new Meter(Broker.Diagnostics.BrokerMetrics.MeterName, MqttBroker.Version);
        _meter.CreateObservableGauge("kirisame.cluster.nodes", ActiveNodes, unit: "{node}",
            description: "Nodes of the cluster that are active, this one included, as this node's membership view has them.");
    }

    public string Name => _settings.Name;

    /// Active members, this node included.
    public int ActiveNodes() => _membership.CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active);

    /// Every member that is not dead, this node first, with its connected clients.
    public async Task<IReadOnlyList<ClusterMember>> MembersAsync()
    {
        var members = _membership.CurrentSnapshot.Members.Values.Where(m => m.Status != SiloStatus.Dead)
            .OrderByDescending(m => m.SiloAddress.Equals(_node.SiloAddress)).ThenBy(m => m.SiloAddress.ToParsableString(), StringComparer.Ordinal).ToList();
        var counts = await Task.WhenAll(members.Select(m => ConnectedAsync(m.SiloAddress)));
        return [.. members.Select((m, i) => new ClusterMember(m.SiloAddress.ToParsableString(), m.Status.ToString(), m.SiloAddress.Equals(_node.SiloAddress), counts[i]))];
    }

    private async Task<long?> ConnectedAsync(SiloAddress member)
    {
        if (member.Equals(_node.SiloAddress))
            return _node.ConnectedClients;
        try
        {
            return await _grains.GetGrain<INodeInbox>(member.ToParsableString()).ConnectedClients().WaitAsync(s_answer);
        }
        catch (Exception ex) when (ex is TimeoutException or OrleansException or OperationCanceledException)
        {
            return null;
        }
    }

    /// Publishes $SYS/broker/cluster/… every <paramref name="interval"/>, retained, on this node only ($SYS values are
    /// neither stored nor replicated).
    public async Task RunSysAsync(TimeSpan interval, CancellationToken token)
    {
        await using var client = await InProcessClient.ConnectAsync(_node.Broker, new InProcessClientOptions { ClientId = SysClientId, IsBroker = true }, token);
        using var timer = new PeriodicTimer(interval);
        do
        {
            var members = await MembersAsync();
            Value(client, "name", Name);
            Value(client, "nodes", members.Count(m => m.Status == nameof(SiloStatus.Active)).ToString(CultureInfo.InvariantCulture));
            Value(client, "node/address", _node.Self);
            // Summed over the members that answered; a node that did not is left out (its count is not known).
            Value(client, "clients/connected", members.Sum(m => m.ConnectedClients ?? 0).ToString(CultureInfo.InvariantCulture));
        }
        while (await timer.WaitForNextTickAsync(token));
    }

    private static void Value(InProcessClient client, string name, string value)
    {
        try
        {
            client.Publish("$SYS/broker/cluster/" + name, System.Text.Encoding.UTF8.GetBytes(value), QualityOfService.AtMostOnce, retain: true, default);
        }
        catch (InvalidOperationException)
        {
            // Disconnected meanwhile: the broker is stopping.
        }
    }

    public void Dispose() => _meter.Dispose();
}
