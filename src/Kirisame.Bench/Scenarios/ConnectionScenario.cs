using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Kirisame.Bench.Clients;
using Kirisame.Bench.Measurement;

namespace Kirisame.Bench.Scenarios;

/// N idle clients: how fast they are accepted (CONNECT to CONNACK, with a bounded number of handshakes in
/// progress), then held for the duration, then how many are still open and what the broker's RSS grew by.
internal static class ConnectionScenario
{
    /// Source addresses 127.0.0.2, .3, … each carry this many connections, well inside one ephemeral range.
    private const int ConnectionsPerSourceAddress = 10_000;
    private static readonly TimeSpan PingInterval = TimeSpan.FromSeconds(BenchConnection.KeepAliveSeconds * 3 / 4);

    public static async Task<BenchResult> RunAsync(BenchOptions o, EndPoint broker, CancellationToken cancellationToken)
    {
        var result = new BenchResult { Options = o };
        var count = o.Clients!.Value;
        var run = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4)).ToLowerInvariant();
        var spreadSources = broker is IPEndPoint { Address: var address } && IPAddress.IsLoopback(address)
            && address.AddressFamily == AddressFamily.InterNetwork;
        // Encoded before the clock starts (and the encoder compiled with it): the connect rate is the broker's.
        var useEpoll = !o.PortableClients && EpollConnector.CanConnect(broker);
        var connects = useEpoll ? new byte[count][] : [];
        for (var i = 0; i < connects.Length; i++)
            connects[i] = BenchConnection.EncodeConnect($"kb-{run}-c{i}", o.Version);
        // Sampled until the end of the hold, while the connections are still open.
        await using var rss = o.BrokerPid is { } pid ? RssSampler.Start(pid) : null;
        result.BrokerRssBefore = rss?.First;
        using var cpu = new CpuMeter();
        var brokerCpu0 = o.BrokerPid is { } p0 ? BrokerProcess.ReadCpuSeconds(p0) : null;
        cpu.Start();
        var start = Stopwatch.GetTimestamp();
        IIdleClients? clients = null;
        try
        {
            Func<int, IPAddress?> source = i => spreadSources ? SourceAddress(i) : null;
            var concurrency = Math.Min(o.ConnectConcurrency, count);
            clients = useEpoll
                ? (IIdleClients)await Task.Factory.StartNew(
                    () => EpollConnector.Open((IPEndPoint)broker, count, concurrency, source, i => connects[i], cancellationToken),
                    cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default)
                : await SocketClients.OpenAsync(broker, count, concurrency, source, i => $"kb-{run}-c{i}", o.Version, cancellationToken);
            var connectSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            // The generator's CPU while connecting: near 1 core would mean it, not the broker, set the rate.
            result.GeneratorCpu = cpu.Stop();
            var connected = clients.Connected;
            var failed = clients.Failed;
            // Broker CPU while accepting: near 1 core means the broker, not the generator, set the connect rate.
            if (brokerCpu0 is { } b0 && o.BrokerPid is { } p1 && BrokerProcess.ReadCpuSeconds(p1) is { } b1)
                result.BrokerBusyCores = (b1 - b0) / connectSeconds;

            // Hold them idle. Keep alive is 60 s, so a long hold pings now and then.
            var holdStart = Stopwatch.GetTimestamp();
            while (Stopwatch.GetElapsedTime(holdStart) < o.Duration)
            {
                var left = o.Duration - Stopwatch.GetElapsedTime(holdStart);
                await Task.Delay(left < PingInterval ? left : PingInterval, cancellationToken);
                if (Stopwatch.GetElapsedTime(holdStart) < o.Duration)
                    clients.Ping();
            }

            var held = Stopwatch.GetElapsedTime(holdStart).TotalSeconds;
            if (rss is not null)
            {
                result.BrokerRss = await rss.StopAsync();
                result.BrokerRssAfter = result.BrokerRss?.End;
                if (result.BrokerRssBefore is { } before && result.BrokerRssAfter is { } after && connected > 0)
                    result.BrokerRssPerConnection = (double)(after - before) / connected;
            }

            var openAtEnd = clients.CountOpen();
            result.Connections = new ConnectionSummary(count, connected, failed, connectSeconds, connected / connectSeconds, held, openAtEnd);
            result.WindowSeconds = connectSeconds + held;
            if (clients.FirstFailure is { } firstFailure)
                result.Errors.Add($"{failed} connections failed; first: {firstFailure}");
            if (openAtEnd != connected)
                result.Errors.Add($"{connected - openAtEnd} connections were closed by the broker while idle");
        }
        finally
        {
            clients?.Dispose();
        }

        return result;
    }

    /// 127.0.0.2 for the first 10 000, 127.0.0.3 for the next, and so on.
    internal static IPAddress SourceAddress(int index)
        => new([127, 0, 0, (byte)(2 + (index / ConnectionsPerSourceAddress))]);
}
