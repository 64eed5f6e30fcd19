using System.Diagnostics;
using System.Text;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests;

/// The durability promise, tested on the real process: once a publisher has seen PUBACK (QoS 1) or PUBCOMP
/// (QoS 2), the message reaches the persistent subscriber even if the broker is killed with SIGKILL right
/// after. QoS 1 at least once, QoS 2 never twice as a new message, order per publisher kept.
public sealed class CrashRecoveryTests
{
    private const string SubscriberId = "crash-subscriber";
    private const int Rounds = 3;
    private static readonly MqttQualityOfServiceLevel[] s_publisherQoS =
        [MqttQualityOfServiceLevel.AtLeastOnce, MqttQualityOfServiceLevel.ExactlyOnce, MqttQualityOfServiceLevel.ExactlyOnce];

    private sealed record Delivery(int Publisher, int Sequence, MqttQualityOfServiceLevel QoS, bool Dup);

    [Fact]
    public async Task AcknowledgedMessages_SurviveSigkill()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "kirisame-crash-" + Guid.NewGuid().ToString("N"));
        var random = new Random(Environment.TickCount);
        var deliveries = new List<Delivery>();
        var acknowledged = new List<(int Publisher, int Sequence)>();
        var next = new int[s_publisherQoS.Length];
        try
        {
            for (var round = 0; round < Rounds; round++)
            {
                await using var server = await KirisameProcess.StartAsync(["--data-dir", dataDir]);
                var subscriber = await ConnectSubscriberAsync(server.Port, deliveries, subscribe: round == 0);
                if (round == 0)
                {
                    using var keeper = await ConnectAsync(server.Port, "crash-retainer", cleanStart: true);
                    await keeper.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("crash/retained").WithPayload("kept")
                        .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithRetainFlag().Build());
                }

                using var stop = new CancellationTokenSource();
                var publishers = Enumerable.Range(0, s_publisherQoS.Length)
                    .Select(p => PublishUntilFailureAsync(server.Port, p, round, next, acknowledged, stop.Token)).ToList();

                // The subscriber goes offline part way (its messages queue up), then the broker dies at a random point.
                var offlineAfter = Acked(acknowledged) + random.Next(20, 150);
                Assert.True(await Poll.UntilAsync(() => Acked(acknowledged) >= offlineAfter, TimeSpan.FromSeconds(20)), server.Describe());
                await subscriber.DisconnectAsync();
                subscriber.Dispose();
                var killAfter = Acked(acknowledged) + random.Next(20, 150);
                Assert.True(await Poll.UntilAsync(() => Acked(acknowledged) >= killAfter, TimeSpan.FromSeconds(20)), server.Describe());
                Process.GetProcessById(server.Process.Id).Kill(); // SIGKILL: no shutdown, no flush
                Assert.True(await server.Process.WaitForExitAsync(TimeSpan.FromSeconds(10)));
                await stop.CancelAsync();
                await Task.WhenAll(publishers);
            }

            await using (var server = await KirisameProcess.StartAsync(["--data-dir", dataDir]))
            {
                var subscriber = await ConnectSubscriberAsync(server.Port, deliveries, subscribe: false);
                var expected = Snapshot(acknowledged);
                var arrived = await Poll.UntilAsync(() => Missing(expected, deliveries).Count == 0, TimeSpan.FromSeconds(20));
                Assert.True(arrived, $"acknowledged but never delivered: {string.Join(", ", Missing(expected, deliveries).Take(20))} (of {expected.Count} acknowledged)\n{server.Describe()}");

                // Retained messages survive too.
                using var late = await ConnectAsync(server.Port, "crash-late", cleanStart: true);
                var retained = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
                late.ApplicationMessageReceivedAsync += e =>
                {
                    retained.TrySetResult(Encoding.UTF8.GetString(e.ApplicationMessage.Payload));
                    return Task.CompletedTask;
                };
                await late.SubscribeAsync("crash/retained", MqttQualityOfServiceLevel.AtLeastOnce);
                Assert.Equal("kept", await retained.Task.WaitAsync(TimeSpan.FromSeconds(10)));
                await subscriber.DisconnectAsync();
                subscriber.Dispose();
            }

            List<Delivery> received;
            lock (deliveries)
                received = [.. deliveries];
            for (var p = 0; p < s_publisherQoS.Length; p++)
            {
                var mine = received.Where(d => d.Publisher == p).ToList();
                // Order per publisher: each message first arrives after the ones published before it.
                var firsts = mine.Select(d => d.Sequence).Distinct().ToList();
                Assert.Equal(firsts.Order(), firsts);
                if (s_publisherQoS[p] == MqttQualityOfServiceLevel.ExactlyOnce)
                {
                    // Exactly once: never delivered twice as a new message (a DUP re-send is the receiver's to drop).
                    var twice = mine.Where(d => !d.Dup).GroupBy(d => d.Sequence).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
                    Assert.True(twice.Count == 0, $"publisher {p}: delivered twice: {string.Join(", ", twice)}");
                }
            }
        }
        finally
        {
            if (Directory.Exists(dataDir))
                Directory.Delete(dataDir, recursive: true);
        }
    }

    private static int Acked(List<(int, int)> acknowledged)
    {
        lock (acknowledged)
            return acknowledged.Count;
    }

    private static List<(int Publisher, int Sequence)> Snapshot(List<(int, int)> acknowledged)
    {
        lock (acknowledged)
            return [.. acknowledged];
    }

    private static List<(int Publisher, int Sequence)> Missing(List<(int Publisher, int Sequence)> expected, List<Delivery> deliveries)
    {
        HashSet<(int, int)> seen;
        lock (deliveries)
            seen = [.. deliveries.Select(d => (d.Publisher, d.Sequence))];
        return [.. expected.Where(e => !seen.Contains(e))];
    }

    /// Publishes numbered messages until the broker goes away; records each one whose PUBACK/PUBCOMP arrived.
    private static async Task PublishUntilFailureAsync(int port, int publisher, int round, int[] next, List<(int, int)> acknowledged, CancellationToken stop)
    {
        IMqttClient client;
        try
        {
            client = await ConnectAsync(port, $"crash-publisher-{publisher}-{round}", cleanStart: true);
        }
        catch (Exception) when (stop.IsCancellationRequested)
        {
            return;
        }

        using (client)
        {
            while (!stop.IsCancellationRequested)
            {
                // Every attempt gets a new number: an attempt cut off by the kill may still have been delivered,
                // and publishing its number again would look like a duplicate.
                var sequence = next[publisher]++;
                var message = new MqttApplicationMessageBuilder().WithTopic($"crash/p{publisher}").WithPayload(sequence.ToString(System.Globalization.CultureInfo.InvariantCulture))
                    .WithQualityOfServiceLevel(s_publisherQoS[publisher]).Build();
                try
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
                    timeout.CancelAfter(TimeSpan.FromSeconds(10));
                    var result = await client.PublishAsync(message, timeout.Token);
                    if (!result.IsSuccess)
                        return;
                }
                catch (Exception)
                {
                    return; // the broker died: not acknowledged, so not promised
                }

                lock (acknowledged)
                    acknowledged.Add((publisher, sequence));
            }
        }
    }

    private static async Task<IMqttClient> ConnectSubscriberAsync(int port, List<Delivery> deliveries, bool subscribe)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        client.ApplicationMessageReceivedAsync += e =>
        {
            var m = e.ApplicationMessage;
            if (m.Topic.StartsWith("crash/p", StringComparison.Ordinal))
            {
                var delivery = new Delivery(int.Parse(m.Topic["crash/p".Length..], System.Globalization.CultureInfo.InvariantCulture),
                    int.Parse(Encoding.UTF8.GetString(m.Payload), System.Globalization.CultureInfo.InvariantCulture), m.QualityOfServiceLevel, m.Dup);
                lock (deliveries)
                    deliveries.Add(delivery);
            }

            return Task.CompletedTask;
        };
        await client.ConnectAsync(Options(port, SubscriberId, cleanStart: subscribe));
        if (subscribe)
            await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("crash/#", MqttQualityOfServiceLevel.ExactlyOnce).Build());
        return client;
    }

    private static async Task<IMqttClient> ConnectAsync(int port, string clientId, bool cleanStart)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(Options(port, clientId, cleanStart));
        return client;
    }

    private static MqttClientOptions Options(int port, string clientId, bool cleanStart) =>
        new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId(clientId)
            .WithCleanStart(cleanStart)
            .WithSessionExpiryInterval(3600)
            .WithTimeout(TimeSpan.FromSeconds(10))
            .Build();
}
