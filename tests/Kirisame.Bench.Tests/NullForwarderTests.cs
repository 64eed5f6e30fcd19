using System.Net;
using System.Net.Sockets;
using Kirisame.Bench.Reporting;
using Kirisame.Protocol;
using Kirisame.Testing;

namespace Kirisame.Bench.Tests;

/// The null forwarder (`kirisame bench --null-forwarder`): fan-in through it loses nothing, in both protocol
/// versions; what it does not do (QoS 1, bytes that are not MQTT) ends that client only.
public sealed class NullForwarderTests
{
    private static async Task<(NullForwarder Forwarder, Task Serving, CancellationTokenSource Stop)> StartAsync()
    {
        var forwarder = new NullForwarder(new IPEndPoint(IPAddress.Loopback, 0));
        var stop = new CancellationTokenSource();
        var serving = Task.Factory.StartNew(() => forwarder.Run(stop.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        await Task.Yield();
        return (forwarder, serving, stop);
    }

    private static async Task StopAsync((NullForwarder Forwarder, Task Serving, CancellationTokenSource Stop) running)
    {
        await running.Stop.CancelAsync();
        await running.Serving.WaitAsync(TimeSpan.FromSeconds(10));
        running.Forwarder.Dispose();
        running.Stop.Dispose();
    }

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task FanIn_QoS0_EveryMessageReachesTheSubscriber(ProtocolVersion version)
    {
        var running = await StartAsync();
        try
        {
            var result = await BenchRunner.RunAsync(new BenchOptions
            {
                Scenario = Scenario.FanIn,
                Port = running.Forwarder.EndPoint.Port,
                QoS = QualityOfService.AtMostOnce,
                Version = version,
                Duration = TimeSpan.FromSeconds(1),
                Warmup = TimeSpan.FromSeconds(0.2),
            });

            var report = BenchReport.ToText(result);
            Assert.True(result.Errors.Count == 0, report);
            Assert.True(result.TotalSent > 10_000, report);
            Assert.Equal(result.TotalSent, result.TotalDelivered); // nothing dropped: the publishers are slowed instead
        }
        finally
        {
            await StopAsync(running);
        }
    }

    [Fact]
    public async Task A_QoS1_Publish_OrBytesThatAreNotMqtt_CloseThatClient_AndOthersGoOn()
    {
        var running = await StartAsync();
        try
        {
            var port = running.Forwarder.EndPoint.Port;
            using var qos1 = await ConnectAsync(port);
            await qos1.SendAsync(new byte[] { 0x32, 0x07, 0x00, 0x01, (byte)'t', 0x00, 0x01, (byte)'x', (byte)'y' }); // QoS 1 PUBLISH
            Assert.Equal(0, await ReceiveAsync(qos1, new byte[16]));

            using var garbage = await ConnectAsync(port);
            await garbage.SendAsync(new byte[] { 0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }); // remaining length over four bytes
            Assert.Equal(0, await ReceiveAsync(garbage, new byte[16]));

            using var ping = await ConnectAsync(port);
            await ping.SendAsync(new byte[] { 0xC0, 0x00 });
            var pong = new byte[2];
            Assert.Equal(2, await ReceiveAsync(ping, pong));
            Assert.Equal(new byte[] { 0xD0, 0x00 }, pong);
        }
        finally
        {
            await StopAsync(running);
        }
    }

    [Fact]
    public async Task TheCommand_SaysWhereItListens_AndStopsOnSigterm()
    {
        int port;
        ExternalProcess process;
        string? line;
        for (var attempt = 1; ; attempt++)
        {
            port = FreePort.GetLoopbackPort();
            process = ExternalProcess.Start(KirisameProcess.DotnetHost,
                [KirisameProcess.ServerDll, "bench", "--null-forwarder", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            line = await process.WaitForLineAsync(l => l.Contains("null forwarder listening on", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
            // The port may be taken between choosing and binding it: then the command says so and exits 1.
            if (line is not null || attempt == 3 || !process.Stderr.Contains("cannot start", StringComparison.Ordinal))
                break;
            await process.DisposeAsync();
        }

        await using var _ = process;
        Assert.True(line is not null, process.Describe());
        Assert.Contains($"127.0.0.1:{port}", line, StringComparison.Ordinal);

        process.Terminate();
        Assert.True(await process.WaitForExitAsync(TimeSpan.FromSeconds(10)), process.Describe());
        Assert.Equal(0, process.ExitCode);
    }

    [Fact]
    public void Arguments_NullForwarder_TakesNoScenario()
    {
        Assert.Empty(BenchArguments.Parse(["--null-forwarder", "--port", "1884"]).Errors);
        Assert.True(BenchArguments.Parse(["--null-forwarder"]).NullForwarder);
        Assert.Contains(BenchArguments.Parse(["--null-forwarder", "--scenario", "fanin"]).Errors, e => e.Contains("no --scenario", StringComparison.Ordinal));
    }

    /// CONNECT (3.1.1) and its CONNACK.
    private static async Task<Socket> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        await socket.SendAsync(new byte[] { 0x10, 0x0D, 0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01, (byte)'c' });
        var connack = new byte[4];
        Assert.Equal(4, await ReceiveAsync(socket, connack));
        Assert.Equal(new byte[] { 0x20, 0x02, 0x00, 0x00 }, connack);
        return socket;
    }

    /// Fills <paramref name="buffer"/> or stops at the end of the stream; the bytes read.
    private static async Task<int> ReceiveAsync(Socket socket, byte[] buffer)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, timeout.Token);
            if (n == 0)
                break;
            read += n;
        }

        return read;
    }
}
