using System.Net;
using System.Net.Sockets;
using Kirisame.Bench.Clients;
using Kirisame.Bench.Reporting;

namespace Kirisame.Bench.Tests;

/// The connection scenario's two client paths (the epoll connector used on Linux x86-64, and .NET sockets)
/// against a stand-in broker whose answers the test chooses: refusals, closes while held, a closed port.
public sealed class ConnectionScenarioTests
{
    public static TheoryData<bool> BothPaths => [false, true];

    private static BenchOptions Options(int port, int clients, bool portable) => new()
    {
        Scenario = Scenario.Connections,
        Port = port,
        Clients = clients,
        ConnectConcurrency = 7,
        Duration = TimeSpan.FromSeconds(0.5),
        PortableClients = portable,
    };

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task EveryClientGetsItsConnAck_AndIsHeldOpen(bool portable)
    {
        await using var broker = StandInBroker.Start(_ => [0x20, 0x02, 0x00, 0x00]);

        var result = await BenchRunner.RunAsync(Options(broker.Port, 50, portable));

        var report = BenchReport.ToText(result);
        var connections = Assert.IsType<ConnectionSummary>(result.Connections);
        Assert.True(result.Errors.Count == 0, report);
        Assert.Equal(50, connections.Connected);
        Assert.Equal(50, connections.OpenAtEnd);
        Assert.Equal(50, broker.ConnectsReceived);
        Assert.True(result.GeneratorCpu.WallSeconds > 0 && result.GeneratorCpu.WallSeconds <= connections.ConnectSeconds + 0.1, report);
    }

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task A_v5_ConnAckWithProperties_IsAccepted(bool portable)
    {
        // Remaining length 8: flags, reason code, properties (length 5: Receive Maximum 10, Retain Available 1).
        await using var broker = StandInBroker.Start(_ => [0x20, 0x08, 0x00, 0x00, 0x05, 0x21, 0x00, 0x0A, 0x25, 0x01]);
        var options = Options(broker.Port, 10, portable);
        options.Version = Protocol.ProtocolVersion.V500;

        var result = await BenchRunner.RunAsync(options);

        Assert.True(result.Errors.Count == 0, BenchReport.ToText(result));
        Assert.Equal(10, result.Connections!.Connected);
    }

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task RefusedClients_AreCountedAsFailed_WithTheReasonCode(bool portable)
    {
        // Every third client is refused with 0x05 (not authorized).
        await using var broker = StandInBroker.Start(i => i % 3 == 0 ? [0x20, 0x02, 0x00, 0x05] : [0x20, 0x02, 0x00, 0x00]);

        var result = await BenchRunner.RunAsync(Options(broker.Port, 30, portable));

        var connections = result.Connections!;
        Assert.Equal(20, connections.Connected);
        Assert.Equal(10, connections.Failed);
        Assert.Equal(20, connections.OpenAtEnd);
        var error = Assert.Single(result.Errors);
        Assert.Contains("10 connections failed", error);
        Assert.True(error.Contains("0x05", StringComparison.OrdinalIgnoreCase), error);
    }

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task ClientsTheBrokerClosesWhileHeld_AreNotCountedOpen(bool portable)
    {
        await using var broker = StandInBroker.Start(_ => [0x20, 0x02, 0x00, 0x00], closeAfterConnAck: i => i % 2 == 1);

        var result = await BenchRunner.RunAsync(Options(broker.Port, 40, portable));

        var connections = result.Connections!;
        Assert.Equal(40, connections.Connected);
        Assert.Equal(20, connections.OpenAtEnd);
        Assert.Contains(result.Errors, e => e.Contains("20 connections were closed by the broker while idle", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task NothingListening_EveryClientFails_WithAMessage(bool portable)
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var result = await BenchRunner.RunAsync(Options(port, 5, portable));

        Assert.Equal(0, result.Connections!.Connected);
        Assert.Equal(5, result.Connections.Failed);
        Assert.Contains(result.Errors, e => e.Contains("5 connections failed", StringComparison.Ordinal));
    }

    [Fact]
    public void ConnAck_IsRead_InEveryShape()
    {
        Assert.Equal(ConnAck.Status.Accepted, ConnAck.TryRead([0x20, 0x02, 0x00, 0x00], out _));
        Assert.Equal(ConnAck.Status.Accepted, ConnAck.TryRead([0x20, 0x02, 0x01, 0x00], out _)); // session present
        Assert.Equal(ConnAck.Status.Refused, ConnAck.TryRead([0x20, 0x03, 0x00, 0x87, 0x00], out var reason));
        Assert.Equal(0x87, reason);
        Assert.Equal(ConnAck.Status.Incomplete, ConnAck.TryRead([0x20], out _));
        Assert.Equal(ConnAck.Status.Incomplete, ConnAck.TryRead([0x20, 0x02, 0x00], out _));
        Assert.Equal(ConnAck.Status.Incomplete, ConnAck.TryRead([0x20, 0x80], out _)); // length continues
        var longV5 = new byte[3 + 130];
        longV5[0] = 0x20;
        longV5[1] = 0x82; // 130 = 0x02 + 1 × 128
        longV5[2] = 0x01;
        Assert.Equal(ConnAck.Status.Accepted, ConnAck.TryRead(longV5, out _));
        Assert.Equal(ConnAck.Status.Incomplete, ConnAck.TryRead(longV5.AsSpan(0, 100), out _));
        Assert.Equal(ConnAck.Status.NotConnAck, ConnAck.TryRead([0x30, 0x02, 0x00, 0x00], out _));
        Assert.Equal(ConnAck.Status.NotConnAck, ConnAck.TryRead([0x20, 0x01, 0x00], out _));
    }

    /// Accepts connections, reads each CONNECT and answers with the bytes chosen for the n-th one; may close it
    /// right after. Counts the CONNECT packets it read.
    private sealed class StandInBroker : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly Func<int, byte[]> _answer;
        private readonly Func<int, bool> _close;
        private readonly List<Socket> _held = [];
        private readonly CancellationTokenSource _stop = new();
        private Task _accepting = Task.CompletedTask;
        private int _accepted = -1;
        private int _connects;

        private StandInBroker(Func<int, byte[]> answer, Func<int, bool> close)
        {
            _answer = answer;
            _close = close;
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public int ConnectsReceived => Volatile.Read(ref _connects);

        public static StandInBroker Start(Func<int, byte[]> answer, Func<int, bool>? closeAfterConnAck = null)
        {
            var broker = new StandInBroker(answer, closeAfterConnAck ?? (_ => false));
            broker._listener.Start(200);
            broker._accepting = broker.AcceptAsync();
            return broker;
        }

        private async Task AcceptAsync()
        {
            var serving = new List<Task>();
            try
            {
                while (true)
                {
                    var socket = await _listener.AcceptSocketAsync(_stop.Token);
                    lock (_held)
                        _held.Add(socket);
                    serving.Add(ServeAsync(socket, Interlocked.Increment(ref _accepted)));
                }
            }
            catch (OperationCanceledException)
            {
            }

            await Task.WhenAll(serving);
        }

        private async Task ServeAsync(Socket socket, int index)
        {
            try
            {
                // CONNECT: fixed header, a one-byte remaining length (the bench's are short), the rest.
                var header = new byte[2];
                await ReceiveExactlyAsync(socket, header);
                await ReceiveExactlyAsync(socket, new byte[header[1]]);
                Interlocked.Increment(ref _connects);
                await socket.SendAsync(_answer(index), SocketFlags.None, _stop.Token);
                if (_close(index))
                    socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }

        private async Task ReceiveExactlyAsync(Socket socket, Memory<byte> buffer)
        {
            while (!buffer.IsEmpty)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (n == 0)
                    throw new SocketException((int)SocketError.ConnectionReset);
                buffer = buffer[n..];
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _accepting;
            lock (_held)
            {
                foreach (var socket in _held)
                    socket.Dispose();
            }

            _stop.Dispose();
        }
    }
}
