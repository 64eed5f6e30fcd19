using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Kirisame.Testing;

namespace Kirisame.Interop.Tests.Security;

/// The broker under a small file-descriptor limit (prlimit). Each connection is a descriptor; a broker that
/// admits connections until accept fails with EMFILE dies there (the runtime cannot start a thread or read
/// /proc without a descriptor: "Out of memory.", exit 134), taking every client with it. Transport:MaxConnections
/// 0 therefore means "what the descriptor limit allows, less a reserve": the connection over it is refused
/// on accept and the broker carries on, as Mosquitto does.
public sealed partial class DescriptorLimitInteropTests
{
    private const int Limit = 400;

    /// How long a refused connection may take to be closed: a refusal is a close on accept, so anything
    /// near this means the connection hung in the backlog.
    private static readonly TimeSpan s_prompt = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(20);

    [GeneratedRegex(@"Maximum connections: (\d+) \(descriptor limit (\d+), (\d+) reserved\)")]
    private static partial Regex DerivedLine();

    [GeneratedRegex(@"Transport:MaxConnections (\d+) is more than the descriptor limit allows: using (\d+) \(descriptor limit (\d+), (\d+) reserved\)")]
    private static partial Regex LoweredLine();

    /// Every engine that serves plain TCP admits through the same limits (Kestrel's also serves TLS and
    /// WebSockets); a data folder adds RocksDB's bounded descriptors to the reserve.
    [Theory]
    [InlineData("Epoll", false)]
    [InlineData("Sockets", false)]
    [InlineData("Kestrel", false)]
    [InlineData("Epoll", true)]
    public async Task DefaultMaxConnections_FollowTheDescriptorLimit_TheExtraConnectionsAreRefused_AndTheBrokerStaysUp(string engine, bool dataFolder)
    {
        var data = dataFolder ? Directory.CreateTempSubdirectory("kirisame-fd-") : null;
        try
        {
            // A data folder reserves RocksDB's descriptors too: a larger limit leaves a similar budget.
            var limit = dataFolder ? Limit + 400 : Limit;
            string[] arguments = ["--Transport:PlainTcpEngine", engine, .. data is null ? [] : new[] { "--data-dir", data.FullName }];
            await using var server = await KirisameProcess.StartAsync(arguments, descriptorLimit: limit);

            var line = await server.Process.WaitForLineAsync(l => DerivedLine().IsMatch(l), s_timeout);
            Assert.True(line is not null, $"no start-up line with the connection limit\n{server.Describe()}");
            var match = DerivedLine().Match(line);
            var max = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.Equal(limit, int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture));
            Assert.Equal(limit, max + int.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture));
            Assert.InRange(max, 50, limit - 100);

            await FillAndOverflowAsync(server, max);
        }
        finally
        {
            data?.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task ConfiguredMaxConnections_AboveTheDescriptorLimit_IsLoweredToIt_WithAWarning()
    {
        await using var server = await KirisameProcess.StartAsync(["--Transport:MaxConnections", "100000"], descriptorLimit: Limit);

        var line = await server.Process.WaitForLineAsync(l => LoweredLine().IsMatch(l), s_timeout);
        Assert.True(line is not null, $"no warning that Transport:MaxConnections was lowered\n{server.Describe()}");
        var match = LoweredLine().Match(line);
        Assert.Equal("100000", match.Groups[1].Value);
        var max = int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
        Assert.InRange(max, 50, Limit - 100);

        await FillAndOverflowAsync(server, max);
    }

    /// Fills the broker to <paramref name="max"/> connections and past it: the extra ones, whether they send
    /// CONNECT or stay silent, are closed at once; the broker stays up, a subscriber from before still gets a
    /// QoS 1 message, and a freed slot is taken again.
    private static async Task FillAndOverflowAsync(KirisameProcess server, int max)
    {
        var sessions = new List<RawSession>();
        try
        {
            var subscriber = await AdmittedAsync(server.Port);
            sessions.Add(subscriber);
            Assert.Equal(0x01, await subscriber.SubscribeAsync("fd/limit"));
            while (sessions.Count < max)
                sessions.Add(await AdmittedAsync(server.Port));

            for (var i = 0; i < 10; i++)
            {
                var refused = await Poll.WithTimeout(RawSession.ConnectAsync(server.Port), s_prompt, $"extra connection {i + 1} (with CONNECT) to be closed");
                refused.Dispose();
                Assert.True(refused.ConnAck is null, $"connection {max + i + 1} of at most {max} got CONNACK 0x{refused.ConnAck:X2}");
            }

            for (var i = 0; i < 5; i++)
                await AssertSilentConnectionClosedAsync(server.Port);

            var refusal = await server.Process.WaitForLineAsync(l => l.Contains($"Refused a connection: Transport:MaxConnections ({max}) reached", StringComparison.Ordinal), s_timeout);
            Assert.True(refusal is not null, $"the refusals were not logged\n{server.Describe()}");
            Assert.False(server.Process.HasExited, server.Describe());

            // One client leaves: its slot is free again (once the broker has seen the close: poll).
            sessions[^1].Dispose();
            sessions.RemoveAt(sessions.Count - 1);
            using var publisher = await AdmittedAsync(server.Port);
            Assert.Equal(0, await publisher.PublishAsync("fd/limit", "still here"));
            var (topic, payload) = await subscriber.ReceivePublishAsync();
            Assert.Equal("fd/limit", topic);
            Assert.Equal("still here", payload);

            Assert.False(server.Process.HasExited, server.Describe());
        }
        finally
        {
            foreach (var session in sessions)
                session.Dispose();
        }
    }

    /// Connects until the broker admits the client: the start-up probe, and a closed client, hold their
    /// slot until the broker has noticed the close.
    private static async Task<RawSession> AdmittedAsync(int port)
    {
        var deadline = DateTime.UtcNow + s_timeout;
        while (true)
        {
            var session = await RawSession.ConnectAsync(port);
            if (session.Accepted)
                return session;
            session.Dispose();
            Assert.True(DateTime.UtcNow < deadline, $"no connection to port {port} was admitted within {s_timeout.TotalSeconds} s");
            await Task.Delay(25);
        }
    }

    /// A connection that never sends anything must be closed by the broker (end of stream or reset), promptly.
    private static async Task AssertSilentConnectionClosedAsync(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var cts = new CancellationTokenSource(s_prompt);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cts.Token);
            var read = await socket.ReceiveAsync(new byte[16], SocketFlags.None, cts.Token);
            Assert.Equal(0, read);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"a silent connection beyond the limit was not closed within {s_prompt.TotalSeconds} s");
        }
    }
}
