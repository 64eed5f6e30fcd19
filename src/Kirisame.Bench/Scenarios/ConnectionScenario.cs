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
        var connections = new BenchConnection?[count];
        var failed = 0;
        string? firstFailure = null;

        if (o.BrokerPid is { } pid)
            result.BrokerRssBefore = BrokerProcess.ReadRss(pid);
        using var cpu = new CpuMeter();
        var brokerCpu0 = o.BrokerPid is { } p0 ? BrokerProcess.ReadCpuSeconds(p0) : null;
        cpu.Start();
        var start = Stopwatch.GetTimestamp();
        try
        {
            var next = -1;
            var workers = new Task[Math.Min(o.ConnectConcurrency, count)];
            for (var w = 0; w < workers.Length; w++)
            {
                workers[w] = Task.Run(async () =>
                {
                    int i;
                    while ((i = Interlocked.Increment(ref next)) < count)
                    {
                        var local = spreadSources ? SourceAddress(i) : null;
                        try
                        {
                            connections[i] = await BenchConnection.OpenAsync(broker, local, $"kb-{run}-c{i}", o.Version, 64, cancellationToken);
                        }
                        catch (Exception ex) when (ex is SocketException or BenchException or IOException)
                        {
                            Interlocked.Increment(ref failed);
                            Interlocked.CompareExchange(ref firstFailure, $"connection {i}: {ex.Message}", null);
                        }
                    }
                }, cancellationToken);
            }

            await Task.WhenAll(workers);
            var connectSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            var connected = count - failed;
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
                    Ping(connections);
            }

            var held = Stopwatch.GetElapsedTime(holdStart).TotalSeconds;
            if (o.BrokerPid is { } pidAfter)
            {
                result.BrokerRssAfter = BrokerProcess.ReadRss(pidAfter);
                if (result.BrokerRssBefore is { } before && result.BrokerRssAfter is { } after && connected > 0)
                    result.BrokerRssPerConnection = (double)(after - before) / connected;
            }

            result.Connections = new ConnectionSummary(count, connected, failed, connectSeconds, connected / connectSeconds, held, CountOpen(connections));
            result.GeneratorCpu = cpu.Stop(); // connect and hold
            result.WindowSeconds = connectSeconds + held;
            if (firstFailure is not null)
                result.Errors.Add($"{failed} connections failed; first: {firstFailure}");
            if (result.Connections.OpenAtEnd != connected)
                result.Errors.Add($"{connected - result.Connections.OpenAtEnd} connections were closed by the broker while idle");
        }
        finally
        {
            foreach (var c in connections)
                CloseQuietly(c);
        }

        return result;
    }

    /// 127.0.0.2 for the first 10 000, 127.0.0.3 for the next, and so on.
    internal static IPAddress SourceAddress(int index)
        => new([127, 0, 0, (byte)(2 + (index / ConnectionsPerSourceAddress))]);

    private static void Ping(BenchConnection?[] connections)
    {
        foreach (var c in connections)
        {
            try
            {
                c?.Socket.Send(Protocol.Codec.MqttEncoder.PingReq, SocketFlags.None);
            }
            catch (SocketException)
            {
            }
        }
    }

    /// A socket the broker closed is readable with nothing to read; a PINGRESP (2 bytes) may be waiting.
    private static int CountOpen(BenchConnection?[] connections)
    {
        var open = 0;
        foreach (var c in connections)
        {
            if (c is null)
                continue;
            try
            {
                if (!(c.Socket.Poll(0, SelectMode.SelectRead) && c.Socket.Available == 0))
                    open++;
            }
            catch (SocketException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
        }

        return open;
    }

    private static void CloseQuietly(BenchConnection? c)
    {
        if (c is null)
            return;
        try
        {
            c.Socket.Send([0xE0, 0x00], SocketFlags.None);
        }
        catch (SocketException)
        {
        }

        c.Dispose();
    }
}
