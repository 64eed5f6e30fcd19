using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Xunit.Abstractions;

namespace Kirisame.Interop.Tests.Storage;

/// Issue 13, "Offline queues on disk", on the real process with its defaults (RocksDB, --durability sync): a
/// persistent session's queue lives in the store with only a window in memory (none while its client is away), so a
/// deep offline queue survives SIGKILL whole, comes back in order, and costs the broker far less memory than its size.
/// Before, the user's crash check lost all but 1,000 of 96,878 acknowledged messages (Broker:MaxQueuedMessages).
public sealed partial class OfflineQueueOnDiskTests(ITestOutputHelper output)
{
    private const string Subscriber = "deep-subscriber";
    private const int Publishers = 4;
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(60);

    private sealed record Delivery(int Publisher, int Number, bool Dup);

    [Fact]
    public async Task AnOfflineSessionsDeepQueue_SurvivesSigkill_AndEverythingAcknowledgedArrivesInOrder()
    {
        const int total = 50_000;
        const int kills = 3; // as in the user's check
        var dataDir = Path.Combine(Path.GetTempPath(), "kirisame-deep-" + Guid.NewGuid().ToString("N"));
        var acknowledged = new List<(int Publisher, int Number)>();
        var next = new int[Publishers];
        var clock = Stopwatch.StartNew();
        try
        {
            for (var round = 0; round <= kills; round++)
            {
                await using var server = await StartAsync(dataDir);
                if (round == 0)
                {
                    // A persistent subscriber (MQTT 5, Session Expiry an hour) subscribes at QoS 1 and goes away.
                    using var subscriber = await ConnectSubscriberAsync(server.Port, [], cleanStart: true);
                    await subscriber.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("deep/#", MqttQualityOfServiceLevel.AtLeastOnce).Build());
                    await subscriber.DisconnectAsync();
                }

                var target = total * (round + 1) / (kills + 1);
                var last = round == kills;
                var publishing = PublishAllAsync(server.Port, round, next, acknowledged, payloadBytes: 64,
                    stop: last ? () => Count(acknowledged) >= total : () => false);
                if (!last)
                {
                    // SIGKILL with the publishers in full flight (each has up to 64 PUBLISHes unacknowledged).
                    Assert.True(await Poll.UntilAsync(() => Count(acknowledged) >= target, s_deadline), server.Describe());
                    Process.GetProcessById(server.Process.Id).Kill();
                    Assert.True(await server.Process.WaitForExitAsync(TimeSpan.FromSeconds(10)));
                }

                await publishing;
                output.WriteLine($"round {round}: {Count(acknowledged)} acknowledged after {clock.Elapsed.TotalSeconds:0.0} s{(last ? "" : "; SIGKILL")}");
            }

            await using (var server = await StartAsync(dataDir))
            {
                var deliveries = new List<Delivery>();
                using var subscriber = await ConnectSubscriberAsync(server.Port, deliveries, cleanStart: false);
                var expected = Snapshot(acknowledged);
                var arrived = await Poll.UntilAsync(() => Missing(expected, deliveries).Count == 0, s_deadline);
                var missing = Missing(expected, deliveries);
                Assert.True(arrived, $"{missing.Count} of {expected.Count} acknowledged messages never delivered, e.g. {string.Join(", ", missing.Take(10))}\n{server.Describe()}");
                await subscriber.DisconnectAsync();
                output.WriteLine($"{expected.Count} acknowledged, all delivered, {Count(deliveries)} deliveries after {clock.Elapsed.TotalSeconds:0.0} s");

                List<Delivery> received;
                lock (deliveries)
                    received = [.. deliveries];
                for (var p = 0; p < Publishers; p++)
                {
                    var mine = received.Where(d => d.Publisher == p).ToList();
                    // In order per publisher: each number first arrives after every number published before it [MQTT-4.6.0-6].
                    var firsts = mine.Select(d => d.Number).Distinct().ToList();
                    Assert.Equal(firsts.Order(), firsts);
                    // At least once: a second delivery of a number must be a re-send, flagged DUP [MQTT-3.3.1-1].
                    var seen = new HashSet<int>();
                    Assert.All(mine.Where(d => !seen.Add(d.Number)), d => Assert.True(d.Dup, $"publisher {p}: {d.Number} delivered twice without DUP"));
                }
            }
        }
        finally
        {
            if (Directory.Exists(dataDir))
                Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task ADeepOfflineQueue_CostsTheBrokerFarLessMemoryThanItsSize_AndIsNotLoadedAtStartUp()
    {
        const int total = 200_000;
        const int payload = 1024;
        // The queue is ~200 MiB of messages. What the broker may grow by while it is written: RocksDB's memtables
        // (64 MiB each, one filling while another is flushed), the store's index (~60 bytes a message), the GC's
        // budget for the messages passing through. Before this change the whole queue stayed in memory (and was
        // dropped beyond 1,000 messages).
        const long allowed = 150L * 1024 * 1024;
        var dataDir = Path.Combine(Path.GetTempPath(), "kirisame-rss-" + Guid.NewGuid().ToString("N"));
        var acknowledged = new List<(int Publisher, int Number)>();
        var next = new int[Publishers];
        try
        {
            long before, peak, after;
            var clock = Stopwatch.StartNew();
            await using (var server = await StartAsync(dataDir))
            {
                using (var subscriber = await ConnectSubscriberAsync(server.Port, [], cleanStart: true))
                {
                    await subscriber.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("deep/#", MqttQualityOfServiceLevel.AtLeastOnce).Build());
                    await subscriber.DisconnectAsync();
                }

                // Warm up (code compiled, pools and the store's first memtable in use) before the baseline.
                await PublishAllAsync(server.Port, 0, next, acknowledged, payload, () => Count(acknowledged) >= 2_000);
                before = ResidentBytes(server.Process.Id);
                peak = before;
                var publishing = PublishAllAsync(server.Port, 1, next, acknowledged, payload, () => Count(acknowledged) >= total);
                while (!publishing.IsCompleted)
                {
                    await Task.WhenAny(publishing, Task.Delay(250));
                    peak = Math.Max(peak, ResidentBytes(server.Process.Id));
                }

                await publishing;
                after = ResidentBytes(server.Process.Id);
                output.WriteLine($"{Count(acknowledged)} messages of {payload} bytes queued for one offline session in {clock.Elapsed.TotalSeconds:0.0} s; " +
                    $"broker RSS {Mib(before)} MiB before, peak {Mib(peak)} MiB (+{Mib(peak - before)}), {Mib(after)} MiB after (+{Mib(after - before)}); " +
                    $"data folder {Mib(FolderBytes(dataDir))} MiB");
                Assert.True(peak - before < allowed,
                    $"the broker grew by {Mib(peak - before)} MiB (peak) for a queue of {Mib((long)Count(acknowledged) * payload)} MiB; allowed {Mib(allowed)} MiB\n{server.Describe()}");
                Process.GetProcessById(server.Process.Id).Kill();
                Assert.True(await server.Process.WaitForExitAsync(TimeSpan.FromSeconds(10)));
            }

            // After SIGKILL the queue is whole on disk, and start-up counts it without loading it.
            var restart = Stopwatch.StartNew();
            await using (var server = await StartAsync(dataDir))
            {
                var listening = restart.Elapsed;
                var line = await server.Process.WaitForLineAsync(l => RestoredLine().IsMatch(l), TimeSpan.FromSeconds(10));
                Assert.NotNull(line);
                var queued = long.Parse(RestoredLine().Match(line).Groups[1].Value, CultureInfo.InvariantCulture);
                Assert.True(queued >= Count(acknowledged), $"restored {queued} queued messages, {Count(acknowledged)} were acknowledged");
                var restarted = ResidentBytes(server.Process.Id);
                output.WriteLine($"restart after SIGKILL: accepting connections after {listening.TotalSeconds:0.00} s, {queued} queued messages restored, RSS {Mib(restarted)} MiB");
                Assert.True(restarted - before < allowed, $"after a restart the broker holds {Mib(restarted)} MiB; before the queue it held {Mib(before)} MiB");
            }
        }
        finally
        {
            if (Directory.Exists(dataDir))
                Directory.Delete(dataDir, recursive: true);
        }
    }

    [GeneratedRegex(@"Restored \d+ sessions, (\d+) queued messages")]
    private static partial Regex RestoredLine();

    private static Task<KirisameProcess> StartAsync(string dataDir) =>
        KirisameProcess.StartAsync(["--data-dir", dataDir, "--Broker:SysInterval", "0"]);

    /// Runs <see cref="Publishers"/> pipelined publishers until <paramref name="stop"/> or until the broker dies;
    /// each continues its numbering from <paramref name="next"/>.
    private static async Task PublishAllAsync(int port, int round, int[] next, List<(int, int)> acknowledged, int payloadBytes, Func<bool> stop)
    {
        await Task.WhenAll(Enumerable.Range(0, Publishers).Select(async p =>
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            using var publisher = await PipelinedPublisher.ConnectAsync(port, $"deep-publisher-{p}-{round}", timeout.Token);
            next[p] = await publisher.PublishAsync($"deep/p{p}", next[p], payloadBytes, _ => stop(), number =>
            {
                lock (acknowledged)
                    acknowledged.Add((p, number));
            });
        }));
    }

    private static async Task<IMqttClient> ConnectSubscriberAsync(int port, List<Delivery> deliveries, bool cleanStart)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        client.ApplicationMessageReceivedAsync += e =>
        {
            var m = e.ApplicationMessage;
            var number = PipelinedPublisher.Number(m.Payload.ToArray());
            lock (deliveries)
                deliveries.Add(new Delivery(int.Parse(m.Topic["deep/p".Length..], CultureInfo.InvariantCulture), number, m.Dup));
            return Task.CompletedTask;
        };
        await client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId(Subscriber)
            .WithCleanStart(cleanStart)
            .WithSessionExpiryInterval(3600)
            .WithTimeout(TimeSpan.FromSeconds(10))
            .Build());
        return client;
    }

    private static int Count<T>(List<T> list)
    {
        lock (list)
            return list.Count;
    }

    private static List<(int Publisher, int Number)> Snapshot(List<(int, int)> acknowledged)
    {
        lock (acknowledged)
            return [.. acknowledged];
    }

    private static List<(int Publisher, int Number)> Missing(List<(int Publisher, int Number)> expected, List<Delivery> deliveries)
    {
        HashSet<(int, int)> seen;
        lock (deliveries)
            seen = [.. deliveries.Select(d => (d.Publisher, d.Number))];
        return [.. expected.Where(e => !seen.Contains(e))];
    }

    private static long ResidentBytes(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }

        throw new InvalidOperationException($"no VmRSS for process {pid}");
    }

    private static long FolderBytes(string path) => new DirectoryInfo(path).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);

    private static long Mib(long bytes) => bytes / (1024 * 1024);
}
