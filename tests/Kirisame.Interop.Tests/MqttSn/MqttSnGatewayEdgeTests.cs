using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Kirisame.Testing;
using static Kirisame.Interop.Tests.MqttSn.SnTestClient;

namespace Kirisame.Interop.Tests.MqttSn;

/// Discovery (SEARCHGW, ADVERTISE), hostile datagrams and the bound on client state, configuration errors: each
/// test with its own server, configured for it.
public sealed partial class MqttSnGatewayEdgeTests
{
    [Fact]
    public async Task SearchGw_IsAnsweredWithGwInfo_AndAdvertiseGoesToTheConfiguredAddress()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var advertiseTo = (IPEndPoint)listener.LocalEndPoint!;
        await using var gateway = await SnGateway.StartAsync("--MqttSn:GatewayId", "42", "--MqttSn:AdvertiseAddress", advertiseTo.ToString(),
            "--MqttSn:AdvertiseInterval", "00:00:01");

        var buffer = new byte[64];
        using var deadline = new CancellationTokenSource(SnTestClient.Timeout);
        for (var i = 0; i < 2; i++)
        {
            // ADVERTISE: GwId 42, Duration 1 s (§5.4.1), every interval.
            var received = await listener.ReceiveAsync(buffer, deadline.Token);
            Assert.Equal(Convert.ToHexString([5, Advertise, 42, 0, 1]), Convert.ToHexString(buffer, 0, received));
        }

        using var client = gateway.Client();
        client.Send(SearchGw, [1]);
        Assert.Equal([42], await client.ExpectAsync(GwInfo));
    }

    [Fact]
    public async Task HostileDatagrams_AreDroppedAndCounted_StateIsBounded_AndRealClientsAreStillServed()
    {
        var managementPort = FreePort.GetLoopbackPort();
        // Tretry 2 s × (Nretry 2 + 1): a stalled will flow is forgotten after 6 s.
        await using var gateway = await SnGateway.StartAsync("--MqttSn:MaxClients", "20", "--MqttSn:MaxConnecting", "5", "--MqttSn:RetryInterval", "00:00:02",
            "--Management:Enabled", "true", "--Management:Port", managementPort.ToString(CultureInfo.InvariantCulture));
        var random = new Random(1234);
        var malformed = 0;
        var senders = Enumerable.Range(0, 50).Select(_ => gateway.Client()).ToList();
        try
        {
            foreach (var sender in senders)
            {
                foreach (var datagram in HostileDatagrams(random))
                {
                    sender.SendRaw(datagram.Bytes);
                    malformed += datagram.Malformed ? 1 : 0;
                }
                // Paced by a round trip, so the kernel's receive buffer never overflows and every datagram is seen:
                // the gateway handles datagrams in order, so its GWINFO comes after it has handled the batch.
                sender.Send(SearchGw, [1]);
                await sender.ExpectAsync(GwInfo);
            }

            // State for unknown senders is bounded: CONNECTs that start a will flow and never finish it fill
            // MqttSn:MaxConnecting, and the next is refused "congestion" (return code 1).
            for (var i = 0; i < 5; i++)
            {
                senders[i].Send(Connect, [Flags(will: true), 0x01], U16(60), Text($"half-open-{i}"));
                await senders[i].ExpectAsync(WillTopicReq);
            }
            senders[5].Send(Connect, [Flags(will: true), 0x01], U16(60), Text("one-too-many"));
            Assert.Equal([1], await senders[5].ExpectAsync(ConnAck));

            Assert.True(await FreePort.WaitUntilAcceptingAsync(managementPort, TimeSpan.FromSeconds(30)), "the management listener did not start");
            using var metrics = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{managementPort}") };
            long Dropped(string text) => Regex.Matches(text, @"kirisame_mqttsn_datagrams_dropped\w*\{[^}]*reason=""malformed""[^}]*\} (\d+)")
                .Sum(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
            string page = "";
            var counted = await Poll.UntilAsync(() =>
            {
                page = metrics.GetStringAsync("/metrics").GetAwaiter().GetResult();
                return Dropped(page) >= malformed;
            }, TimeSpan.FromSeconds(15));
            Assert.True(counted && Dropped(page) == malformed, $"expected {malformed} malformed datagrams counted.\n{string.Join('\n', page.Split('\n').Where(l => l.Contains("mqttsn", StringComparison.Ordinal)))}");
            long Connecting(string text) => long.Parse(Regex.Match(text, @"kirisame_mqttsn_clients\{[^}]*state=""connecting""[^}]*\} (\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.Equal(5, Connecting(page));
            // ... and the half-open state goes once Tretry × (Nretry + 1) has passed.
            Assert.True(await Poll.UntilAsync(() => Connecting(metrics.GetStringAsync("/metrics").GetAwaiter().GetResult()) == 0, TimeSpan.FromSeconds(20)));
            Assert.False(gateway.Server.Process.HasExited, gateway.Server.Describe());

            // A well-behaved client from yet another port is served as usual.
            await using var subscriber = MosquittoClients.StartSubscriber(gateway.Port, "sn/after/hostile");
            await MosquittoClients.WaitUntilSubscribedAsync(subscriber);
            using var client = gateway.Client();
            Assert.Equal(0, await client.ConnectAsync("well-behaved"));
            Assert.Equal(0, await client.PublishAsync(await client.RegisterAsync("sn/after/hostile"), "still here", 1));
            Assert.NotNull(await subscriber.WaitForLineAsync(l => l == "sn/after/hostile still here", MosquittoClients.DefaultTimeout));
        }
        finally
        {
            senders.ForEach(s => s.Dispose());
        }
    }

    /// Random bytes, truncated headers, lengths that disagree with the datagram, long forms lying about their length,
    /// oversized datagrams, bodies too short for their type — and which of them the gateway must count as malformed.
    private static IEnumerable<(byte[] Bytes, bool Malformed)> HostileDatagrams(Random random)
    {
        yield return ([], true);
        yield return ([0x05], true);
        yield return ([0x00, Connect], true);
        yield return ([0x01, 0x00], true);
        yield return ([0x01, 0x00, 0x02, Publish], true);
        yield return ([0x09, Publish, 0x00], true);
        yield return ([0x02, Connect], true); // CONNECT without a body
        yield return ([0x04, SearchGw, 0x01, 0x09], true); // SEARCHGW with a body of two bytes
        var oversized = new byte[60_000];
        random.NextBytes(oversized);
        oversized[0] = 0x01; // the long form, claiming 0xFFFF bytes
        oversized[1] = 0xFF;
        oversized[2] = 0xFF;
        yield return (oversized, true);
        var noise = new byte[random.Next(3, 200)];
        random.NextBytes(noise);
        noise[0] = (byte)(noise.Length + 1); // never equal to the datagram's length
        yield return (noise, true);
    }

    [Theory]
    [InlineData("--MqttSn:Port", "70000", "MqttSn:Port")]
    [InlineData("--MqttSn:AdvertiseAddress", "not-an-address", "MqttSn:AdvertiseAddress")]
    [InlineData("--MqttSn:PredefinedTopics:0", "a/b", "MqttSn:PredefinedTopics:0")]
    [InlineData("--MqttSn:PredefinedTopics:3", "a/#", "MqttSn:PredefinedTopics:3")]
    [InlineData("--MqttSn:Listener", "nowhere", "MqttSn:Listener")]
    [InlineData("--MqttSn:Bogus", "1", "MqttSn:Bogus")]
    public async Task BadConfiguration_ExitsWith2_NamingTheKey(string key, string value, string named)
    {
        var result = await KirisameProcess.RunToCompletionAsync(["serve", "--in-memory", "--MqttSn:Enabled", "true", key, value], TimeSpan.FromSeconds(30));
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(named, result.Stderr, StringComparison.Ordinal);
    }
}
