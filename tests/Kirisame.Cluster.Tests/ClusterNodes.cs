using System.Globalization;
using System.Text.Json;

namespace Kirisame.Cluster.Tests;

/// A cluster of real `kirisame` processes on loopback: each with an MQTT port, a management port (for /health/ready)
/// and a silo port, joined through the first node's silo (seed list) or a Redis membership store.
internal sealed class ClusterNodes : IAsyncDisposable
{
    private static readonly TimeSpan s_formation = TimeSpan.FromSeconds(60);

    private readonly List<Node> _nodes = [];
    private readonly string _name = "test-" + Guid.NewGuid().ToString("N")[..8];
    private readonly string? _membership;
    private readonly string[] _arguments;
    private readonly int _primarySiloPort = FreePort.GetLoopbackPort();

    private ClusterNodes(string? membership, string[] arguments)
    {
        _membership = membership;
        _arguments = arguments;
    }

    public IReadOnlyList<Node> Nodes => _nodes;

    public Node this[int index] => _nodes[index];

    /// Starts <paramref name="count"/> nodes at once and waits until each sees the others. <paramref name="arguments"/>
    /// come after the fixture's own (a later --Broker:SysInterval wins).
    public static async Task<ClusterNodes> StartAsync(int count, string? membership = null, string[]? arguments = null)
    {
        var cluster = new ClusterNodes(membership, arguments ?? []);
        try
        {
            await cluster.AddAsync(count);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// Starts <paramref name="count"/> more nodes and waits until every node sees all the others.
    public async Task AddAsync(int count)
    {
        // The primary first: the others cannot join before it is up, and on a loaded machine (two cores shared by
        // several test runs) three cold starts at once took longer than a node's start timeout.
        if (_nodes.Count == 0 && count > 0)
        {
            _nodes.Add(await StartNodeAsync(_primarySiloPort));
            count--;
        }

        var starting = Enumerable.Range(0, count).Select(_ => StartNodeAsync(FreePort.GetLoopbackPort())).ToList();
        try
        {
            await Task.WhenAll(starting);
        }
        catch
        {
            // The nodes that did start would outlive the test otherwise (seen when a busy machine delayed another);
            // those already in _nodes go with the cluster's disposal.
            foreach (var started in starting.Where(t => t.IsCompletedSuccessfully))
                await started.Result.Process.DisposeAsync();
            throw;
        }

        foreach (var started in starting)
            _nodes.Add(started.Result);
        foreach (var node in _nodes)
            await WaitForPeersAsync(node.ManagementPort, _nodes.Count - 1, node.Process.Describe);
    }

    private async Task<Node> StartNodeAsync(int siloPort)
    {
        var membership = _membership is null
            ? (string[])["--cluster-seeds", $"127.0.0.1:{_primarySiloPort}"]
            : ["--Cluster:Membership", _membership];
        var process = await KirisameProcess.StartAsync(1, ports =>
        [
            "--cluster", _name, "--cluster-port", siloPort.ToString(CultureInfo.InvariantCulture), .. membership,
            "--management-port", ports[0].ToString(CultureInfo.InvariantCulture), "--Broker:SysInterval", "0", .. _arguments,
        ]);
        return new Node(process, process.ExtraPorts[0]);
    }

    /// Waits until the node whose management listener is on <paramref name="managementPort"/> is ready and sees
    /// <paramref name="peers"/> other nodes.
    public static async Task WaitForPeersAsync(int managementPort, int peers, Func<string> describe)
    {
        var expected = $"{peers} other node(s)";
        string last = "";
        var deadline = DateTime.UtcNow + s_formation;
        while (DateTime.UtcNow < deadline)
        {
            var (ready, detail) = await ReadinessAsync(managementPort);
            last = detail;
            if (ready && detail.Contains(expected, StringComparison.Ordinal))
                return;
            await Task.Delay(200);
        }

        Assert.Fail($"Node with management port {managementPort} did not see {peers} other node(s) within {s_formation.TotalSeconds} s: {last}\n{describe()}");
    }

    /// /health/ready of the node whose management listener is on <paramref name="managementPort"/>: whether it is ready,
    /// and the cluster check's detail.
    public static async Task<(bool Ready, string ClusterDetail)> ReadinessAsync(int managementPort)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{managementPort}/health/ready"));
            using var report = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var cluster = report.RootElement.GetProperty("checks").EnumerateArray()
                .FirstOrDefault(c => c.GetProperty("name").GetString() == "cluster");
            var detail = cluster.ValueKind == JsonValueKind.Undefined ? "no cluster check" : cluster.GetProperty("detail").GetString() ?? "";
            return (response.IsSuccessStatusCode, detail);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return (false, ex.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
            await node.Process.DisposeAsync();
    }

    internal sealed class Node(KirisameProcess process, int managementPort)
    {
        public int ManagementPort => managementPort;

        public KirisameProcess Process { get; } = process;

        public int Port => Process.Port;

        /// SIGKILL: no goodbye to anyone, as a crashed machine.
        public void Kill() => Process.Process.Kill();

        /// /health/ready: whether it is ready, and the cluster check's detail.
        public Task<(bool Ready, string ClusterDetail)> ReadinessAsync() => ClusterNodes.ReadinessAsync(managementPort);
    }
}
