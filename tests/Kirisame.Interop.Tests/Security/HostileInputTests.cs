using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Kirisame.Protocol;
using Kirisame.Protocol.Tests.Vectors;
using Kirisame.Testing;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Xunit.Abstractions;

namespace Kirisame.Interop.Tests.Security;

/// Malformed, truncated, oversized and random packets against the real server over TCP and WebSockets,
/// while a well-behaved client keeps publishing and receiving; and connections that never send a CONNECT.
/// Run alone: thousands of connections would starve the other interop tests on a small machine.
[Collection(HostileInputCollection.Name)]
public sealed class HostileInputTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_perConnection = TimeSpan.FromSeconds(15);
    private const int Seed = 20261126;

    private sealed record Case(string Name, byte[] Bytes, ProtocolVersion Version, ReasonCode? ExpectedDisconnect);

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    /// A valid CONNECT (clean session, keep alive 60) for the version, with its own client id.
    private static byte[] Connect(ProtocolVersion version, string clientId)
    {
        var id = Encoding.ASCII.GetBytes(clientId);
        var body = new List<byte>();
        body.AddRange(version == ProtocolVersion.V310 ? [0x00, 0x06, .. "MQIsdp"u8, 0x03] : [0x00, 0x04, .. "MQTT"u8, version == ProtocolVersion.V500 ? (byte)5 : (byte)4]);
        body.AddRange([0x02, 0x00, 0x3C]);
        if (version == ProtocolVersion.V500)
            body.Add(0x00);
        body.AddRange([(byte)(id.Length >> 8), (byte)id.Length, .. id]);
        return [0x10, (byte)body.Count, .. body];
    }

    /// The hostile inputs: every invalid vector (after a CONNECT unless it is one), every valid vector cut
    /// short, valid vectors with random bytes changed, length prefixes far above the maximum packet size,
    /// and random bytes — cycled until there are <paramref name="count"/>.
    private static List<Case> Cases(int count, Random random)
    {
        var cases = new List<Case>(count);
        var n = 0;
        string Id() => "hostile-" + (n++).ToString(CultureInfo.InvariantCulture);
        while (cases.Count < count)
        {
            foreach (var vector in MqttVectors.Invalid)
            {
                var type = vector.Bytes[0] >> 4;
                var isConnect = type == 1;
                var bytes = isConnect ? vector.Bytes : [.. Connect(vector.Version, Id()), .. vector.Bytes];
                // A packet only a server sends (CONNACK, SUBACK, UNSUBACK, PINGRESP) is a protocol error from a
                // client whatever its bytes; the table's reason is the decoder's.
                var reason = type is 2 or 9 or 11 or 13 ? ReasonCode.ProtocolError : vector.Reason;
                cases.Add(new Case("invalid: " + vector.Name, bytes, vector.Version, isConnect || vector.Version != ProtocolVersion.V500 ? null : reason));
            }

            foreach (var vector in MqttVectors.Valid)
            {
                var cut = random.Next(1, vector.Bytes.Length);
                cases.Add(new Case("truncated: " + vector.Name, [.. Connect(vector.Version, Id()), .. vector.Bytes.AsSpan(0, cut)], vector.Version, null));
                var mutated = vector.Bytes.ToArray();
                for (var i = random.Next(1, 4); i > 0; i--)
                    mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
                cases.Add(new Case("mutated: " + vector.Name, random.Next(4) == 0 ? mutated : [.. Connect(vector.Version, Id()), .. mutated], vector.Version, null));
            }

            // 268 435 455 bytes announced (the largest remaining length), then a trickle: refused before buffering.
            cases.Add(new Case("oversized PUBLISH", [.. Connect(ProtocolVersion.V500, Id()), 0x30, 0xFF, 0xFF, 0xFF, 0x7F, 0x00, 0x01, (byte)'t'], ProtocolVersion.V500, ReasonCode.PacketTooLarge));
            cases.Add(new Case("oversized CONNECT", [0x10, 0xFF, 0xFF, 0xFF, 0x7F, 0x00, 0x04, .. "MQTT"u8], ProtocolVersion.V311, null));
            cases.Add(new Case("five-byte remaining length", [.. Connect(ProtocolVersion.V311, Id()), 0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], ProtocolVersion.V311, null));
            var garbage = new byte[random.Next(1, 512)];
            random.NextBytes(garbage);
            cases.Add(new Case("random bytes", garbage, ProtocolVersion.V311, null));
        }

        return cases.GetRange(0, count);
    }

    private sealed class Outcome
    {
        public int Closed;
        public int RightReason;
        public readonly List<string> Problems = [];
    }

    [Fact]
    public async Task TwelveThousandHostilePackets_OverTcpAndWebSockets_NeitherCrashTheServer_NorDisturbAWellBehavedClient()
    {
        await using var server = await KirisameProcess.StartAsync(1, ports => ["--ws-port", Port(ports[0]), "--Logging:LogLevel:Default", "Warning"]);
        var ws = server.ExtraPorts[0];
        var random = new Random(Seed);

        // The well-behaved client: publishes QoS 1 to itself in a loop for the whole run.
        var topic = Unique.Topic("steady");
        await using var steady = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500);
        await steady.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);
        using var stop = new CancellationTokenSource();
        var sent = 0;
        var publishing = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await steady.PublishAsync(topic, "tick", MqttQualityOfServiceLevel.AtLeastOnce);
                Interlocked.Increment(ref sent);
                await Task.Delay(20);
            }
        });
        await steady.WaitForMessagesAsync(1);
        var baseline = Rss(server);

        var tcpCases = Cases(8_000, random);
        var wsCases = Cases(4_000, random);
        var outcome = new Outcome();
        var progress = new List<int>();
        progress.Add(steady.Messages.Count);
        await RunAllAsync(tcpCases, c => SendOverTcpAsync(server.Port, c, outcome), () => progress.Add(steady.Messages.Count));
        await RunAllAsync(wsCases, c => SendOverWebSocketAsync(ws, c, outcome), () => progress.Add(steady.Messages.Count));

        await stop.CancelAsync();
        await publishing;
        var after = Rss(server);
        output.WriteLine($"closed {outcome.Closed}/{tcpCases.Count + wsCases.Count}, right DISCONNECT reason {outcome.RightReason}, " +
            $"steady client received {steady.Messages.Count} of {sent}, progress {string.Join(",", progress)}, RSS {baseline / 1024} MiB → {after / 1024} MiB");
        foreach (var problem in outcome.Problems.Select(p => p[..p.IndexOf(':', StringComparison.Ordinal)] + p[p.IndexOf('\'', StringComparison.Ordinal)..p.LastIndexOf('\'')]).Distinct().Take(30))
            output.WriteLine(problem);

        Assert.False(server.Process.HasExited, server.Describe());
        Assert.True(outcome.Problems.Count == 0, string.Join("\n", outcome.Problems.Take(20)));
        Assert.Equal(tcpCases.Count + wsCases.Count, outcome.Closed);
        // The steady client kept receiving during every stretch of the attack, and is still connected.
        for (var i = 1; i < progress.Count; i++)
            Assert.True(progress[i] > progress[i - 1], $"the steady client received nothing between checkpoints {i - 1} and {i}: {string.Join(",", progress)}");
        Assert.True(steady.Client.IsConnected);
        Assert.False(steady.Disconnected.IsCompleted);
        Assert.True(after < baseline + 200 * 1024, $"RSS grew from {baseline} KiB to {after} KiB");
    }

    /// Runs the cases 16 at a time, noting the steady client's progress every 1 000.
    private static async Task RunAllAsync(List<Case> cases, Func<Case, Task> run, Action checkpoint)
    {
        for (var start = 0; start < cases.Count; start += 1000)
        {
            var batch = cases.GetRange(start, Math.Min(1000, cases.Count - start));
            await Parallel.ForEachAsync(batch, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (c, _) => await run(c));
            checkpoint();
        }
    }

    private static async Task SendOverTcpAsync(int port, Case c, Outcome outcome)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var cts = new CancellationTokenSource(s_perConnection);
        var received = new List<byte>();
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cts.Token);
            await socket.SendAsync(c.Bytes, SocketFlags.None, cts.Token);
            // A truncated packet would otherwise wait for the rest: end the stream like a client that gave up.
            // Whole packets are left to the server to refuse, so that its DISCONNECT is not lost to a reset.
            if (c.ExpectedDisconnect is null)
                socket.Shutdown(SocketShutdown.Send);
            var buffer = new byte[4096];
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
                received.AddRange(buffer.AsSpan(0, n));
        }
        catch (SocketException)
        {
            // Reset by the server: closed too.
        }
        catch (OperationCanceledException)
        {
            lock (outcome)
                outcome.Problems.Add($"TCP '{c.Name}': not closed within {s_perConnection.TotalSeconds} s");
            return;
        }

        Record(c, received, outcome, "TCP");
    }

    private static async Task SendOverWebSocketAsync(int port, Case c, Outcome outcome)
    {
        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("mqtt");
        using var cts = new CancellationTokenSource(s_perConnection);
        var received = new List<byte>();
        try
        {
            await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/mqtt"), cts.Token);
            // Split across frames at an arbitrary point: the server must reassemble the stream.
            var split = c.Bytes.Length / 2;
            await socket.SendAsync(c.Bytes.AsMemory(0, split), WebSocketMessageType.Binary, true, cts.Token);
            await socket.SendAsync(c.Bytes.AsMemory(split), WebSocketMessageType.Binary, true, cts.Token);
            if (c.ExpectedDisconnect is null)
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
            var buffer = new byte[4096];
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, cts.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    if (socket.State == WebSocketState.CloseReceived)
                        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
                    break;
                }

                received.AddRange(buffer.AsSpan(0, result.Count));
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException)
        {
            // The server dropped the connection: closed too.
        }
        catch (OperationCanceledException)
        {
            lock (outcome)
                outcome.Problems.Add($"WebSocket '{c.Name}': not closed within {s_perConnection.TotalSeconds} s");
            return;
        }

        Record(c, received, outcome, "WebSocket");
    }

    /// Every connection is closed; where the case says which DISCONNECT reason a v5 client must get, the
    /// last packet the server sent is that DISCONNECT.
    private static void Record(Case c, List<byte> received, Outcome outcome, string transport)
    {
        lock (outcome)
        {
            outcome.Closed++;
            if (c.ExpectedDisconnect is not { } expected)
                return;
            var disconnect = LastPacket(received);
            if (disconnect is [0xE0, _, var reason, ..] && reason == (byte)expected)
                outcome.RightReason++;
            else
                outcome.Problems.Add($"{transport} '{c.Name}': expected DISCONNECT 0x{(byte)expected:X2}, server sent [{Convert.ToHexString([.. received])}]");
        }
    }

    private static byte[]? LastPacket(List<byte> bytes)
    {
        byte[]? last = null;
        var i = 0;
        while (i < bytes.Count)
        {
            var start = i++;
            int length = 0, shift = 0;
            while (i < bytes.Count)
            {
                var b = bytes[i++];
                length |= (b & 0x7F) << shift;
                shift += 7;
                if ((b & 0x80) == 0)
                    break;
            }

            if (i + length > bytes.Count)
                return last;
            last = [.. bytes.GetRange(start, i + length - start)];
            i += length;
        }

        return last;
    }

    /// Resident memory of the server process in KiB, from /proc.
    private static long Rss(KirisameProcess server)
    {
        var line = File.ReadLines($"/proc/{server.Process.Id}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task FiveThousandSilentOrTricklingSockets_AreClosedByTheConnectTimeout_AndANormalClientStillConnects()
    {
        await using var server = await KirisameProcess.StartAsync(["--Broker:ConnectTimeout", "00:00:03", "--Logging:LogLevel:Default", "Warning"]);
        var sockets = new List<Socket>();
        var closed = new List<Task>();
        try
        {
            for (var batch = 0; batch < 20; batch++)
            {
                var opened = await Task.WhenAll(Enumerable.Range(0, 250).Select(async _ =>
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, server.Port));
                    return socket;
                }));
                sockets.AddRange(opened);
            }

            foreach (var socket in sockets)
                closed.Add(WaitUntilClosedAsync(socket));

            // Fifty of them send a CONNECT one byte a second: slow enough never to finish in time.
            var connect = Connect(ProtocolVersion.V311, "trickle");
            using var stopTrickle = new CancellationTokenSource();
            var trickling = Task.WhenAll(sockets.Take(50).Select(async socket =>
            {
                try
                {
                    foreach (var b in connect)
                    {
                        await socket.SendAsync(new[] { b }, SocketFlags.None, stopTrickle.Token);
                        await Task.Delay(1000, stopTrickle.Token); // the attack's pace, not a wait for a condition
                    }
                }
                catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
                {
                    // Closed by the server (what we want) or the test is over.
                }
            }));

            // While all 5 000 are open, a normal client connects, publishes and receives.
            var topic = Unique.Topic("slowloris");
            await using (var client = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V311))
            {
                await client.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);
                await client.PublishAsync(topic, "still here", MqttQualityOfServiceLevel.AtLeastOnce);
                Assert.Equal("still here", Assert.Single(await client.WaitForMessagesAsync(1)).Payload);
            }

            await Poll.WithTimeout(Task.WhenAll(closed), TimeSpan.FromSeconds(60), "the server to close 5 000 connections that sent no CONNECT");
            await stopTrickle.CancelAsync();
            await trickling;
            Assert.False(server.Process.HasExited, server.Describe());

            // And the server still takes new clients afterwards.
            await using var later = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500);
            Assert.True(later.Client.IsConnected);
        }
        finally
        {
            foreach (var socket in sockets)
                socket.Dispose();
        }
    }

    private static async Task WaitUntilClosedAsync(Socket socket)
    {
        var buffer = new byte[16];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None) > 0)
            {
            }
        }
        catch (SocketException)
        {
        }
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HostileInputCollection
{
    public const string Name = "Hostile input (run alone)";
}
