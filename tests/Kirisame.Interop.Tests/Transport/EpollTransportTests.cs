using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Testing;

namespace Kirisame.Interop.Tests.Transport;

/// The epoll engine (Transport:PlainTcpEngine Epoll; src/Kirisame.Transport/Sockets) in the real server,
/// driven from bare sockets: packets cut into many small writes, a reader too slow for what is sent to it,
/// peers that close mid-packet, half-close or reset, and thousands of connections on the one engine. Clean-up
/// is checked from outside: the server's accepted sockets in /proc, and $SYS/broker/clients/connected.
public sealed class EpollTransportTests
{
    private const string EpollThread = "Kirisame epoll"; // EpollEngine's thread name
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    private static Task<KirisameProcess> StartAsync(params string[] arguments) =>
        KirisameProcess.StartAsync(["--Transport:PlainTcpEngine", "Epoll", "--Broker:SysInterval", "1", .. arguments]);

    /// The other tests rely on the engine named in the arguments being the one that serves: its thread
    /// runs exactly when Epoll is chosen.
    [EpollTheory]
    [InlineData("Epoll", true)]
    [InlineData("Sockets", false)]
    public async Task PlainTcpEngine_Epoll_RunsTheEpollThread(string engine, bool expected)
    {
        await using var server = await KirisameProcess.StartAsync(["--Transport:PlainTcpEngine", engine]);
        using var cts = new CancellationTokenSource(s_timeout);
        using var client = await WireClient.ConnectAsync(server.Port, Unique.ClientId("engine"), cts.Token);

        // The engine is made before the listener binds, so it runs by the time a client is served.
        Assert.Equal(expected, ProcessProbe.ThreadNames(server.Process.Id).Contains(EpollThread));
    }

    /// Every packet arrives one byte per TCP segment, with a pause after each: the reader waits for readiness
    /// between bytes and must reassemble fixed headers, remaining lengths and bodies across reads.
    [EpollFact]
    public async Task PacketsWrittenOneByteAtATime_AreReassembled()
    {
        await using var server = await StartAsync();
        using var cts = new CancellationTokenSource(s_timeout);
        using var client = await WireClient.OpenAsync(server.Port, cts.Token);
        var topic = Unique.Topic("bytewise");
        var payload = Pattern(300, seed: 1);
        byte[] stream =
        [
            .. WireClient.Connect(Unique.ClientId("bytewise")),
            .. WireClient.Subscribe(topic, QualityOfService.AtMostOnce, packetId: 1),
            .. WireClient.Publish(topic, payload, QualityOfService.AtLeastOnce, packetId: 2),
            .. WireClient.PingReq,
        ];

        for (var i = 0; i < stream.Length; i++)
        {
            await client.SendAsync(stream.AsMemory(i, 1), cts.Token);
            await Task.Delay(1, cts.Token);
        }

        Assert.IsType<ConnAckPacket>((await client.ReadAsync(cts.Token)).Packet);
        Assert.IsType<SubAckPacket>((await client.ReadAsync(cts.Token)).Packet);
        var rest = new List<Received>();
        for (var i = 0; i < 3; i++)
            rest.Add(await client.ReadAsync(cts.Token));
        var ack = Assert.IsType<PublishAckPacket>(Assert.Single(rest, r => r.Type == PacketType.PubAck).Packet);
        Assert.Equal(2, ack.PacketId);
        var echoed = Assert.Single(rest, r => r.Type == PacketType.Publish);
        Assert.Equal(topic, echoed.Topic);
        Assert.Equal(payload, echoed.Payload);
        Assert.Single(rest, r => r.Type == PacketType.PingResp);
    }

    /// Many publishes of mixed sizes (some larger than the engine's largest receive buffer, 64 KiB) sent as one
    /// stream cut at sizes unrelated to packet boundaries: 1, 2, 3, 13 bytes, just under a page, just over 64 KiB.
    /// A packet's start lands anywhere in a receive buffer, so kept partial packets are moved and the buffer grows.
    [EpollFact]
    public async Task PacketsCutAtOddSizes_ArriveIntactAndInOrder()
    {
        await using var server = await StartAsync();
        using var cts = new CancellationTokenSource(s_timeout);
        var topic = Unique.Topic("odd-cuts");
        using var subscriber = await WireClient.ConnectAsync(server.Port, Unique.ClientId("odd-sub"), cts.Token);
        await subscriber.SubscribeAsync(topic, QualityOfService.AtMostOnce, packetId: 1, cts.Token);
        using var publisher = await WireClient.ConnectAsync(server.Port, Unique.ClientId("odd-pub"), cts.Token);

        const int count = 120;
        var payloads = Enumerable.Range(0, count)
            .Select(i => Pattern(i % 30 == 29 ? 70_000 + (i * 1_013) : 1 + (i * 7_919 % 5_000), seed: i))
            .ToArray();
        var stream = payloads.SelectMany(p => WireClient.Publish(topic, p)).ToArray();
        int[] cuts = [1, 4_093, 2, 65_537, 3, 1_021, 13, 9_000];

        var reading = ReadPublishesAsync(subscriber, count, cts.Token);
        for (int offset = 0, i = 0; offset < stream.Length; i++)
        {
            var length = Math.Min(cuts[i % cuts.Length], stream.Length - offset);
            await publisher.SendAsync(stream.AsMemory(offset, length), cts.Token);
            offset += length;
            if (i % 3 == 0)
                await Task.Delay(1, cts.Token); // let the server see the cut before the rest comes
        }

        var received = await Poll.WithTimeout(reading, s_timeout, $"{count} publishes");
        for (var i = 0; i < count; i++)
            Assert.True(payloads[i].AsSpan().SequenceEqual(received[i]), $"message {i} ({payloads[i].Length} bytes) differs");
    }

    /// A subscriber with a small receive buffer that reads a few KiB at a time, with a pause after each read,
    /// is sent more than the kernel can hold for it (its largest send buffer plus the subscriber's window), so
    /// the server's sends must stop (EAGAIN), wait for writability and resume mid-packet, many times.
    [EpollTheory]
    [InlineData(1, 8_000_000)]
    [InlineData(250, 32_000)]
    public async Task LargeOutboundToASlowReader_ArrivesCompleteAndInOrder(int count, int size)
    {
        const int receiveBuffer = 8 * 1024;
        var kernelMaximum = long.Parse(File.ReadAllText("/proc/sys/net/ipv4/tcp_wmem").Split('\t', ' ').Last(s => s.Length > 0).Trim(), CultureInfo.InvariantCulture);
        Assert.True((long)count * size > kernelMaximum + (4 * receiveBuffer), "the test must send more than the socket buffers can hold");
        await using var server = await StartAsync(
            "--Broker:MaximumPacketSize", "16777216", "--Broker:MaxQueuedMessages", "100000", "--Broker:MaxQueuedBytes", "268435456");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var topic = Unique.Topic("slow-reader");
        using var subscriber = await WireClient.ConnectAsync(server.Port, Unique.ClientId("slow"), cts.Token, receiveBuffer);
        await subscriber.SubscribeAsync(topic, QualityOfService.AtMostOnce, packetId: 1, cts.Token);
        subscriber.ReadSize = 4 * 1024;
        subscriber.ReadPause = TimeSpan.FromMilliseconds(1);
        using var publisher = await WireClient.ConnectAsync(server.Port, Unique.ClientId("fast"), cts.Token);

        var reading = ReadPublishesAsync(subscriber, count, cts.Token);
        for (var i = 0; i < count; i++)
            await publisher.SendAsync(WireClient.Publish(topic, Pattern(size, seed: i)), cts.Token);

        // While the subscriber reads, the server's socket holds more than the subscriber's window: it is sending
        // as fast as it may, and the rest waits in the server.
        Assert.True(await Poll.UntilAsync(() => reading.IsCompleted || ProcessProbe.UnsentBytes(server.Process.Id, server.Port) > 64 * 1024, s_timeout));
        if (reading.IsFaulted)
            await reading; // its failure says more
        Assert.False(reading.IsCompleted, "the subscriber read everything before the server's sends backed up");
        var received = await Poll.WithTimeout(reading, TimeSpan.FromSeconds(120), $"{count} publishes of {size} bytes");
        for (var i = 0; i < count; i++)
            Assert.True(Pattern(size, seed: i).AsSpan().SequenceEqual(received[i]), $"message {i} differs");
    }

    /// Clients that close (FIN) part-way through a packet: a CONNECT, a small PUBLISH, a PUBLISH larger than the
    /// receive buffer. Each connection must be closed by the server and nothing else disturbed.
    [EpollFact]
    public async Task ClientsThatCloseMidPacket_AreCleanedUp_AndTheBrokerServesOn()
    {
        await using var server = await StartAsync();
        using var cts = new CancellationTokenSource(s_timeout);
        var topic = Unique.Topic("mid-packet");
        var clients = new List<WireClient>();
        try
        {
            for (var i = 0; i < 10; i++)
            {
                var connect = WireClient.Connect(Unique.ClientId("half-connect"));
                var halfConnect = await WireClient.OpenAsync(server.Port, cts.Token);
                clients.Add(halfConnect);
                await halfConnect.SendAsync(connect.AsMemory(0, connect.Length - 3), cts.Token);

                var small = WireClient.Publish(topic, Pattern(1_000, seed: i));
                var halfSmall = await WireClient.ConnectAsync(server.Port, Unique.ClientId("half-small"), cts.Token);
                clients.Add(halfSmall);
                await halfSmall.SendAsync(small.AsMemory(0, small.Length / 2), cts.Token);

                var large = WireClient.Publish(topic, Pattern(200_000, seed: i));
                var halfLarge = await WireClient.ConnectAsync(server.Port, Unique.ClientId("half-large"), cts.Token);
                clients.Add(halfLarge);
                await halfLarge.SendAsync(large.AsMemory(0, large.Length / 2), cts.Token);
            }

            // The probe sees them (so that seeing none later means something).
            await AssertAcceptedSocketsAsync(server, clients.Count);
        }
        finally
        {
            foreach (var client in clients)
                client.Dispose();
        }

        await AssertOnlyConnectedRemainAsync(server, remaining: 0);
    }

    /// A client that sends PUBLISH and DISCONNECT in one write and shuts down its sending side: both packets
    /// are handled (the message is routed and acknowledged), then the server ends the stream cleanly (FIN, not
    /// a reset) and lets the socket go (section 3.14.4).
    [EpollFact]
    public async Task ClientThatHalfClosesAfterDisconnect_IsServed_ThenClosedCleanly()
    {
        await using var server = await StartAsync();
        using var cts = new CancellationTokenSource(s_timeout);
        var topic = Unique.Topic("half-close");
        using var subscriber = await WireClient.ConnectAsync(server.Port, Unique.ClientId("half-close-sub"), cts.Token);
        await subscriber.SubscribeAsync(topic, QualityOfService.AtMostOnce, packetId: 1, cts.Token);

        for (var i = 0; i < 20; i++)
        {
            using var publisher = await WireClient.ConnectAsync(server.Port, Unique.ClientId("half-close-pub"), cts.Token);
            var payload = Encoding.UTF8.GetBytes($"message {i}");
            byte[] publishThenDisconnect = [.. WireClient.Publish(topic, payload, QualityOfService.AtLeastOnce, packetId: 7), .. WireClient.Disconnect];
            await publisher.SendAsync(publishThenDisconnect, cts.Token);
            publisher.Socket.Shutdown(SocketShutdown.Send);

            var ack = Assert.IsType<PublishAckPacket>((await publisher.ReadAsync(cts.Token)).Packet);
            Assert.Equal(7, ack.PacketId);
            Assert.True(await publisher.EndsAsync(cts.Token), "the server sent more after the PUBACK");
            var delivered = await subscriber.ReadAsync(cts.Token);
            Assert.Equal(payload, delivered.Payload);
        }

        await AssertOnlyConnectedRemainAsync(server, remaining: 1);
    }

    /// A client that shuts down its sending side right after a PUBLISH, with no DISCONNECT: the end of the
    /// stream arrives with the packet. The message is still routed, and the server closes the connection
    /// cleanly (a PUBACK may or may not precede the end: the network connection was lost, section 4.4).
    [EpollFact]
    public async Task ClientThatHalfClosesWithoutDisconnect_ItsLastMessageIsRouted_ThenItIsClosed()
    {
        await using var server = await StartAsync();
        using var cts = new CancellationTokenSource(s_timeout);
        var topic = Unique.Topic("half-close-no-disconnect");
        using var subscriber = await WireClient.ConnectAsync(server.Port, Unique.ClientId("eof-sub"), cts.Token);
        await subscriber.SubscribeAsync(topic, QualityOfService.AtMostOnce, packetId: 1, cts.Token);

        for (var i = 0; i < 20; i++)
        {
            using var publisher = await WireClient.ConnectAsync(server.Port, Unique.ClientId("eof-pub"), cts.Token);
            var payload = Encoding.UTF8.GetBytes($"last words {i}");
            await publisher.SendAsync(WireClient.Publish(topic, payload, QualityOfService.AtLeastOnce, packetId: 9), cts.Token);
            publisher.Socket.Shutdown(SocketShutdown.Send);

            var first = await publisher.TryReadAsync(cts.Token);
            if (first is not null)
            {
                Assert.Equal(9, Assert.IsType<PublishAckPacket>(first.Packet).PacketId);
                Assert.True(await publisher.EndsAsync(cts.Token), "the server sent more after the PUBACK");
            }

            Assert.Equal(payload, (await subscriber.ReadAsync(cts.Token)).Payload);
        }

        await AssertOnlyConnectedRemainAsync(server, remaining: 1);
    }

    /// Connections reset by the peer (SO_LINGER 0, then close: RST instead of FIN) before CONNECT completes,
    /// idle after it, mid-packet, and while the server is blocked sending to them.
    [EpollTheory]
    [InlineData("before CONNECT completes")]
    [InlineData("idle")]
    [InlineData("mid-packet")]
    [InlineData("while being sent to")]
    public async Task ResetConnections_AreCleanedUp_AndTheBrokerServesOn(string when)
    {
        await using var server = await StartAsync("--Broker:MaxQueuedMessages", "100000", "--Broker:MaxQueuedBytes", "268435456");
        using var cts = new CancellationTokenSource(s_timeout);
        var topic = Unique.Topic("reset");
        using var other = await WireClient.ConnectAsync(server.Port, Unique.ClientId("bystander"), cts.Token);

        for (var i = 0; i < 5; i++)
        {
            var victim = when switch
            {
                "before CONNECT completes" => await WireClient.OpenAsync(server.Port, cts.Token),
                "while being sent to" => await WireClient.ConnectAsync(server.Port, Unique.ClientId("reset"), cts.Token, receiveBufferSize: 8 * 1024),
                _ => await WireClient.ConnectAsync(server.Port, Unique.ClientId("reset"), cts.Token),
            };
            using (victim)
            {
                switch (when)
                {
                    case "before CONNECT completes":
                        await victim.SendAsync(WireClient.Connect("reset").AsMemory(0, 10), cts.Token);
                        break;
                    case "idle":
                        await victim.SubscribeAsync(topic, QualityOfService.AtLeastOnce, packetId: 1, cts.Token);
                        break;
                    case "mid-packet":
                        await victim.SendAsync(WireClient.Publish(topic, Pattern(100_000, seed: i)).AsMemory(0, 50_000), cts.Token);
                        break;
                    case "while being sent to":
                        await victim.SubscribeAsync(topic, QualityOfService.AtMostOnce, packetId: 1, cts.Token);
                        await FillAsync(other, topic, cts.Token);
                        Assert.True(await Poll.UntilAsync(() => ProcessProbe.UnsentBytes(server.Process.Id, server.Port) > 64 * 1024, s_timeout),
                            "the server's sends to the subscriber are not backed up");
                        break;
                }

                await AssertAcceptedSocketsAsync(server, 2);
                victim.Reset();
            }

            await AssertAcceptedSocketsAsync(server, 1);
        }

        await AssertOnlyConnectedRemainAsync(server, remaining: 1);
    }

    /// Sends a subscriber that does not read more than its socket can take (8 MB), then waits until the server
    /// has it all: the writer is then waiting for writability.
    private static async Task FillAsync(WireClient publisher, string topic, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 64; i++)
            await publisher.SendAsync(WireClient.Publish(topic, Pattern(128 * 1024, seed: i)), cancellationToken);
        // PINGRESP comes after the server has routed every PUBLISH sent before the PINGREQ.
        await publisher.SendAsync(WireClient.PingReq, cancellationToken);
        Assert.Equal(PacketType.PingResp, (await publisher.ReadAsync(cancellationToken)).Type);
    }

    /// Short-lived connections (closed, reset, or dropped before CONNECT) come and go in parallel while two
    /// long-lived ones exchange a stream of messages. The engine hands a closed connection's index to the next
    /// one, and an event still on its way for the old one may reach the new one: nothing may be lost, mixed up
    /// or stalled by it.
    [EpollFact]
    public async Task ConnectionChurn_DoesNotDisturbLongLivedConnections()
    {
        const int messages = 2_000;
        const int churners = 4;
        const int cyclesPerChurner = 150;
        await using var server = await StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var topic = Unique.Topic("steady");
        using var subscriber = await WireClient.ConnectAsync(server.Port, Unique.ClientId("steady-sub"), cts.Token);
        await subscriber.SubscribeAsync(topic, QualityOfService.AtMostOnce, packetId: 1, cts.Token);
        using var publisher = await WireClient.ConnectAsync(server.Port, Unique.ClientId("steady-pub"), cts.Token);

        var reading = ReadPublishesAsync(subscriber, messages, cts.Token);
        var churning = Enumerable.Range(0, churners).Select(c => Task.Run(async () =>
        {
            for (var i = 0; i < cyclesPerChurner; i++)
            {
                if (i % 3 == 0)
                {
                    using var dropped = await WireClient.OpenAsync(server.Port, cts.Token);
                    await dropped.SendAsync(WireClient.Connect("x").AsMemory(0, 5), cts.Token);
                    continue;
                }

                using var client = await WireClient.ConnectAsync(server.Port, Unique.ClientId($"churn-{c}"), cts.Token);
                await client.SendAsync(WireClient.PingReq, cts.Token);
                Assert.Equal(PacketType.PingResp, (await client.ReadAsync(cts.Token)).Type);
                if (i % 3 == 1)
                    client.Reset();
            }
        }, cts.Token)).ToArray();

        for (var i = 0; i < messages; i++)
        {
            await publisher.SendAsync(WireClient.Publish(topic, BitConverter.GetBytes(i)), cts.Token);
            if (i % 50 == 0)
                await Task.Delay(1, cts.Token); // spread the stream over the churn
        }

        await Poll.WithTimeout(Task.WhenAll(churning), TimeSpan.FromSeconds(120), "the short-lived connections");
        var received = await Poll.WithTimeout(reading, TimeSpan.FromSeconds(120), $"{messages} messages");
        for (var i = 0; i < messages; i++)
            Assert.Equal(i, BitConverter.ToInt32(received[i]));
        await AssertOnlyConnectedRemainAsync(server, remaining: 2);
    }

    /// 2 000 clients on the one epoll engine, open at the same time, each with its own CONNECT, SUBSCRIBE and
    /// PUBLISH round trip; then all still answer a PINGREQ, and once they close the server holds none of them.
    [EpollFact]
    public async Task TwoThousandConnections_EachCompleteARoundTrip()
    {
        const int count = 2_000;
        await using var server = await StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        var prefix = Unique.Topic("many");
        var clients = new WireClient?[count];
        try
        {
            using var gate = new SemaphoreSlim(100); // a connect storm well under the listen backlog (512)
            await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
            {
                await gate.WaitAsync(cts.Token);
                try
                {
                    var client = clients[i] = await WireClient.ConnectAsync(server.Port, $"many-{i}-{Guid.NewGuid():N}", cts.Token);
                    var topic = $"{prefix}/{i}";
                    var payload = Encoding.UTF8.GetBytes($"round trip {i}");
                    await client.SubscribeAsync(topic, QualityOfService.AtMostOnce, packetId: 1, cts.Token);
                    await client.SendAsync(WireClient.Publish(topic, payload, QualityOfService.AtLeastOnce, packetId: 2), cts.Token);
                    var first = await client.ReadAsync(cts.Token);
                    var second = await client.ReadAsync(cts.Token);
                    Received[] both = [first, second];
                    var echoed = Assert.Single(both, r => r.Type == PacketType.Publish);
                    Assert.Equal(topic, echoed.Topic);
                    Assert.Equal(payload, echoed.Payload);
                    Assert.Single(both, r => r.Type == PacketType.PubAck);
                }
                finally
                {
                    gate.Release();
                }
            }));

            await AssertAcceptedSocketsAsync(server, count);
            await AssertConnectedAsync(server, count, cts.Token);
            Assert.Single(ProcessProbe.ThreadNames(server.Process.Id), name => name == EpollThread);
            await Task.WhenAll(clients.Select(async client =>
            {
                await client!.SendAsync(WireClient.PingReq, cts.Token);
                Assert.Equal(PacketType.PingResp, (await client.ReadAsync(cts.Token)).Type);
            }));
        }
        finally
        {
            foreach (var client in clients)
                client?.Dispose();
        }

        await AssertOnlyConnectedRemainAsync(server, remaining: 0);
    }

    /// The server holds exactly <paramref name="remaining"/> accepted sockets, has as many MQTT clients connected
    /// (per $SYS), and still routes: a new client's message to itself comes back.
    private static async Task AssertOnlyConnectedRemainAsync(KirisameProcess server, int remaining)
    {
        await AssertAcceptedSocketsAsync(server, remaining);
        using var cts = new CancellationTokenSource(s_timeout);
        await AssertConnectedAsync(server, remaining, cts.Token);

        using var client = await WireClient.ConnectAsync(server.Port, Unique.ClientId("after"), cts.Token);
        var topic = Unique.Topic("after");
        await client.SubscribeAsync(topic, QualityOfService.AtMostOnce, packetId: 1, cts.Token);
        await client.SendAsync(WireClient.Publish(topic, "still serving"u8.ToArray()), cts.Token);
        Assert.Equal("still serving"u8.ToArray(), (await client.ReadAsync(cts.Token)).Payload);
        Assert.False(server.Process.HasExited, server.Describe());
    }

    private static async Task AssertAcceptedSocketsAsync(KirisameProcess server, int expected)
    {
        var last = -1;
        var reached = await Poll.UntilAsync(() => (last = ProcessProbe.AcceptedSockets(server.Process.Id, server.Port)) == expected, s_timeout);
        Assert.True(reached, $"the server holds {last} accepted sockets, expected {expected}");
    }

    /// Waits for $SYS/broker/clients/connected to count <paramref name="others"/> clients besides the one asking.
    private static async Task AssertConnectedAsync(KirisameProcess server, int others, CancellationToken cancellationToken)
    {
        using var observer = await WireClient.ConnectAsync(server.Port, Unique.ClientId("sys"), cancellationToken);
        await observer.SubscribeAsync("$SYS/broker/clients/connected", QualityOfService.AtMostOnce, packetId: 1, cancellationToken);
        var expected = (others + 1).ToString(CultureInfo.InvariantCulture);
        string? last = null;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        try
        {
            // Retained, then published every second (Broker:SysInterval 1): the first value may be from before.
            while ((last = Encoding.UTF8.GetString((await observer.ReadAsync(deadline.Token)).Payload!)) != expected)
            {
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"$SYS/broker/clients/connected stayed {last}, expected {expected}");
        }
    }

    private static async Task<List<byte[]>> ReadPublishesAsync(WireClient client, int count, CancellationToken cancellationToken)
    {
        var payloads = new List<byte[]>(count);
        while (payloads.Count < count)
        {
            var packet = await client.ReadAsync(cancellationToken);
            Assert.Equal(PacketType.Publish, packet.Type);
            payloads.Add(packet.Payload!);
        }

        return payloads;
    }

    private static byte[] Pattern(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
