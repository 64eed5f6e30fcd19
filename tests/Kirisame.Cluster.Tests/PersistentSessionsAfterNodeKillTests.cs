using System.Collections.Concurrent;
using System.Globalization;
using MQTTnet.Exceptions;

namespace Kirisame.Cluster.Tests;

/// With `Cluster:SharedStore`, each node keeps its RocksDB store in a folder of one the nodes share; when a node dies,
/// a live node opens its folder and adopts its persistent sessions, and the QoS 1/2 messages other nodes had sent to it
/// but it had not accepted are held (their PUBACKs waiting) until the adoption is done (docs/adr/0020). Without it a
/// node's persistent sessions end with the node: a client that comes back elsewhere has no session, and every message
/// acknowledged to a publisher but not yet delivered is lost.
public sealed class PersistentSessionsAfterNodeKillTests
{
    private const int Subscribers = 12;
    private const int Publishers = 4;
    private const int InFlight = 64;
    private const uint SessionExpiry = 3600;

    /// Long enough for failure detection and the adoption on a loaded machine: a PUBACK may wait for the adoption.
    private static readonly TimeSpan s_publishTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan s_reconnectDeadline = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan s_deliveryDeadline = TimeSpan.FromSeconds(60);

    /// The node holding persistent subscribers is SIGKILLed under QoS 1 load from publishers on the other nodes: each
    /// subscriber reconnecting (clean start false) on a surviving node must get its session back (Session Present),
    /// and between what it received before the kill and what it receives after, every message a publisher had a
    /// PUBACK for — the ones queued in its session on the dead node, in flight to it, and the ones other nodes had sent
    /// to the dead node but it had not accepted. Duplicates are allowed (QoS 1, and in-flight messages are sent again).
    [Fact]
    public async Task KilledNode_UnderQoS1Load_ItsPersistentSessionsContinueOnOtherNodes_WithNoAcknowledgedMessageLost()
    {
        var shared = Directory.CreateTempSubdirectory("kirisame-shared-").FullName;
        var first = new List<MqttNetClient>();
        var returned = new MqttNetClient?[Subscribers];
        try
        {
            // Queues without a practical limit: an offline session over its limit drops messages by a configured, counted
            // policy, which is not what this test is about.
            await using var cluster = await StartAsync(shared, "--Broker:MaxQueuedMessages", "10000000", "--Broker:MaxQueuedBytes", "4294967296");
            var prefix = Unique.Topic("adopted");
            var ids = Enumerable.Range(0, Subscribers).Select(i => Unique.ClientId("persistent" + i.ToString(CultureInfo.InvariantCulture))).ToList();

            // On the node that will die — not the first: in seed-list mode it keeps the member list.
            foreach (var id in ids)
            {
                var subscriber = await MqttNetClient.ConnectAsync(cluster[2].Port, MqttProtocolVersion.V500, id,
                    o => o.WithCleanStart(false).WithSessionExpiryInterval(SessionExpiry));
                first.Add(subscriber);
                await subscriber.SubscribeAsync($"{prefix}/#", MqttQualityOfServiceLevel.AtLeastOnce);
            }

            // Routes reach the other nodes a little later; a message published before would rightly go nowhere.
            foreach (var subscriber in first)
            {
                await Routes.WaitUntilRoutedAsync(cluster[0].Port, subscriber, prefix);
                await Routes.WaitUntilRoutedAsync(cluster[1].Port, subscriber, prefix);
            }

            var acknowledged = new ConcurrentBag<string>();
            await RunLoadAndKillAsync(cluster, prefix, acknowledged);
            // The kill ended the subscribers' connections: what they received before it is now final.
            await Poll.WithTimeout(Task.WhenAll(first.Select(s => s.Disconnected)), TimeSpan.FromSeconds(15),
                "the killed node's subscribers to see their connections end");

            // Each client comes back on a surviving node, as a client would: retried while its session is being adopted.
            var reconnecting = ids.Select((id, i) => ReconnectAsync(cluster[i % 2], id)).ToList();
            try
            {
                await Task.WhenAll(reconnecting);
            }
            finally
            {
                for (var i = 0; i < Subscribers; i++)
                {
                    if (reconnecting[i].IsCompletedSuccessfully)
                        returned[i] = await reconnecting[i];
                }
            }

            var fresh = ids.Where((_, i) => !returned[i]!.ConnectResult!.IsSessionPresent).ToList();
            // [MQTT-3.2.2-3]: each session continued, adopted from the dead node.
            Assert.True(fresh.Count == 0,
                $"{fresh.Count} of {Subscribers} sessions were not present after the reconnection: {string.Join(", ", fresh)}\n{cluster[0].Process.Describe()}\n{cluster[1].Process.Describe()}");

            var expected = acknowledged.ToHashSet();
            var deadline = DateTime.UtcNow + s_deliveryDeadline;
            var report = new List<string>();
            for (var i = 0; i < Subscribers; i++)
            {
                var before = first[i];
                var after = returned[i]!;
                // The queued messages follow the CONNACK; on a loaded machine they take a while. Tens of thousands of
                // them: the count goes first so that the set is built only when it can be complete.
                await Poll.UntilAsync(() => before.Messages.Count + after.Messages.Count >= expected.Count && Lost(expected, before, after).Count == 0,
                    deadline - DateTime.UtcNow);
                var lost = Lost(expected, before, after);
                if (lost.Count > 0)
                {
                    report.Add($"{ids[i]}: {lost.Count} lost ({before.Messages.Count} received before the kill, {after.Messages.Count} after; "
                        + $"e.g. {string.Join(", ", lost.Take(10))})");
                }
            }

            Assert.True(report.Count == 0,
                $"{report.Count} of {Subscribers} subscribers lost some of the {expected.Count} acknowledged messages:\n{string.Join("\n", report)}\n"
                + $"{cluster[0].Process.Describe()}\n{cluster[1].Process.Describe()}");
        }
        finally
        {
            foreach (var client in first.Concat(returned.OfType<MqttNetClient>()))
                await client.DisposeAsync();
            Directory.Delete(shared, recursive: true);
        }
    }

    /// Clients whose persistent sessions (offline, with queued QoS 1 messages) were on a node that dies come back on
    /// another node at once — before the death is even detected. The node they come to cannot reach the dead one to
    /// have the sessions handed over; it waits for the node that takes them up from the shared store (or refuses with
    /// Server unavailable, and the client tries again), and each client gets its session with every queued message.
    /// Without the wait, the claim would go on with a fresh session and the queued messages would be lost.
    [Fact]
    public async Task ClientsReturningAtOnce_ToAnotherNode_GetTheirSessionsWithTheQueuedMessages()
    {
        var shared = Directory.CreateTempSubdirectory("kirisame-shared-").FullName;
        var returned = new List<MqttNetClient>();
        try
        {
            await using var cluster = await StartAsync(shared);
            var prefix = Unique.Topic("queued");
            var ids = Enumerable.Range(0, 6).Select(i => Unique.ClientId("offline" + i.ToString(CultureInfo.InvariantCulture))).ToList();
            foreach (var id in ids)
            {
                await using var subscriber = await MqttNetClient.ConnectAsync(cluster[2].Port, MqttProtocolVersion.V500, id,
                    o => o.WithCleanStart(false).WithSessionExpiryInterval(SessionExpiry));
                await subscriber.SubscribeAsync($"{prefix}/#", MqttQualityOfServiceLevel.AtLeastOnce);
                await Routes.WaitUntilRoutedAsync(cluster[0].Port, subscriber, prefix);
            }

            // Each PUBACK comes once the dead-to-be node has the message in its store for every offline session.
            var payloads = await PublishQueuedAsync(cluster[0], $"{prefix}/x", "m", 100);

            cluster[2].Kill();
            foreach (var id in ids)
                returned.Add(await ReconnectAsync(cluster[1], id));

            Assert.All(returned, client => Assert.True(client.ConnectResult!.IsSessionPresent, $"no session\n{cluster[1].Process.Describe()}"));
            foreach (var client in returned)
            {
                await Poll.UntilAsync(() => payloads.All(client.Messages.Select(m => m.Payload).ToHashSet().Contains), TimeSpan.FromSeconds(30));
                var received = client.Messages.Select(m => m.Payload).ToHashSet();
                var lost = payloads.Where(p => !received.Contains(p)).ToList();
                Assert.True(lost.Count == 0, $"{lost.Count} of {payloads.Count} queued messages lost (e.g. {string.Join(", ", lost.Take(5))})\n"
                    + $"{cluster[0].Process.Describe()}\n{cluster[1].Process.Describe()}");
            }
        }
        finally
        {
            foreach (var client in returned)
                await client.DisposeAsync();
            Directory.Delete(shared, recursive: true);
        }
    }

    /// A node that is only frozen (SIGSTOP) past its failure detection is declared dead, but its process still holds its
    /// store folder: the sessions are not taken up from under it (they would exist twice if it resumed), and a client
    /// returning elsewhere is refused with Server unavailable rather than given an empty session. Once the process is
    /// gone (SIGKILL), the sessions are taken up and the client gets its session with its queued messages.
    [Fact]
    public async Task FrozenNode_KeepsItsSessions_UntilItsProcessIsGone()
    {
        var shared = Directory.CreateTempSubdirectory("kirisame-shared-").FullName;
        MqttNetClient? back = null;
        try
        {
            await using var cluster = await StartAsync(shared);
            var prefix = Unique.Topic("frozen");
            var id = Unique.ClientId("kept");
            await using (var subscriber = await MqttNetClient.ConnectAsync(cluster[2].Port, MqttProtocolVersion.V500, id,
                o => o.WithCleanStart(false).WithSessionExpiryInterval(SessionExpiry)))
            {
                await subscriber.SubscribeAsync($"{prefix}/#", MqttQualityOfServiceLevel.AtLeastOnce);
                await Routes.WaitUntilRoutedAsync(cluster[0].Port, subscriber, prefix);
            }

            var payloads = await PublishQueuedAsync(cluster[0], $"{prefix}/x", "f", 20);

            cluster[2].Process.Process.Signal("STOP");
            try
            {
                // Declared dead, and the node taking its sessions up finds the folder held.
                var held = await Task.WhenAny(new[] { cluster[0], cluster[1] }.Select(node => node.Process.Process.WaitForLineAsync(
                    l => l.Contains("is still held by a process", StringComparison.Ordinal), TimeSpan.FromSeconds(60))));
                Assert.True(await held is not null, $"no node found the frozen node's folder held\n{cluster[0].Process.Describe()}\n{cluster[1].Process.Describe()}");

                await using (var early = await MqttNetClient.TryConnectAsync(cluster[1].Port, MqttProtocolVersion.V500, id,
                    o => o.WithCleanStart(false).WithSessionExpiryInterval(SessionExpiry)))
                {
                    Assert.Equal(MqttClientConnectResultCode.ServerUnavailable, early.ConnectResult!.ResultCode);
                }
            }
            finally
            {
                cluster[2].Kill(); // a stopped process dies of SIGKILL too: its lock goes with it
            }

            back = await ReconnectAsync(cluster[1], id);
            Assert.True(back.ConnectResult!.IsSessionPresent, $"no session\n{cluster[0].Process.Describe()}\n{cluster[1].Process.Describe()}");
            await Poll.UntilAsync(() => payloads.All(back.Messages.Select(m => m.Payload).ToHashSet().Contains), TimeSpan.FromSeconds(30));
            var received = back.Messages.Select(m => m.Payload).ToHashSet();
            Assert.True(payloads.All(received.Contains), $"received {received.Count} of {payloads.Count} queued messages");
        }
        finally
        {
            if (back is not null)
                await back.DisposeAsync();
            Directory.Delete(shared, recursive: true);
        }
    }

    /// Three nodes keeping their stores in <paramref name="shared"/>, durable (the fixture would add --in-memory otherwise,
    /// and an in-memory store has nothing to take up), with <paramref name="arguments"/> after.
    private static Task<ClusterNodes> StartAsync(string shared, params string[] arguments) =>
        ClusterNodes.StartAsync(3, arguments: ["--cluster-shared-store", shared, "--Storage:Durability", "sync", .. arguments]);

    /// Publishes <paramref name="count"/> QoS 1 messages to <paramref name="topic"/> on <paramref name="node"/>, one at a
    /// time, each acknowledged; returns their payloads.
    private static async Task<List<string>> PublishQueuedAsync(ClusterNodes.Node node, string topic, string prefix, int count)
    {
        await using var publisher = await MqttNetClient.ConnectAsync(node.Port, MqttProtocolVersion.V500, Unique.ClientId("publisher"));
        var payloads = Enumerable.Range(0, count).Select(i => prefix + i.ToString(CultureInfo.InvariantCulture)).ToList();
        foreach (var payload in payloads)
        {
            var result = await publisher.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            Assert.True(result.IsSuccess, $"PUBLISH {payload}: {result.ReasonCode}");
        }

        return payloads;
    }

    /// Publishers on the surviving nodes (half on each) keep QoS 1 load on the subscribers' node, which is SIGKILLed
    /// after 1.5 s; they go on 3 s more — the messages for the dead node's sessions are then held until the adoption —
    /// and are stopped. Returns once every PUBLISH has its PUBACK or gave up.
    private static async Task RunLoadAndKillAsync(ClusterNodes cluster, string prefix, ConcurrentBag<string> acknowledged)
    {
        using var stop = new CancellationTokenSource();
        var publishers = new List<MqttNetClient>();
        try
        {
            for (var p = 0; p < Publishers; p++)
                publishers.Add(await MqttNetClient.ConnectAsync(cluster[p % 2].Port, MqttProtocolVersion.V500, Unique.ClientId($"publisher{p}")));
            var load = publishers.Select((publisher, p) => PublishUntilStoppedAsync(publisher, $"{prefix}/p{p}", $"p{p}-", acknowledged, stop.Token)).ToList();

            await Task.Delay(TimeSpan.FromSeconds(1.5));
            Assert.True(acknowledged.Count > 50, $"Only {acknowledged.Count} messages acknowledged in 1.5 s");
            cluster[2].Kill();
            await Task.Delay(TimeSpan.FromSeconds(3));
            stop.Cancel();
            // Each PUBLISH still in flight ends with its PUBACK or its own timeout.
            await Poll.WithTimeout(Task.WhenAll(load), s_publishTimeout + TimeSpan.FromSeconds(30), "the publishers' last PUBACKs");
        }
        finally
        {
            await stop.CancelAsync();
            foreach (var publisher in publishers)
                await publisher.DisposeAsync();
        }
    }

    /// Keeps <see cref="InFlight"/> QoS 1 PUBLISHes in flight until <paramref name="stop"/>, each with a unique
    /// payload; records each one acknowledged.
    private static async Task PublishUntilStoppedAsync(MqttNetClient publisher, string topic, string prefix,
        ConcurrentBag<string> acknowledged, CancellationToken stop)
    {
        var inFlight = new List<Task>();
        for (var i = 0; !stop.IsCancellationRequested && publisher.Client.IsConnected; i++)
        {
            var id = prefix + i.ToString(CultureInfo.InvariantCulture);
            var message = new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(id).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
            inFlight.Add(PublishOneAsync(publisher, message, id, acknowledged));
            if (inFlight.Count < InFlight)
                continue;
            inFlight.Remove(await Task.WhenAny(inFlight));
        }

        await Task.WhenAll(inFlight);
    }

    private static async Task PublishOneAsync(MqttNetClient publisher, MqttApplicationMessage message, string id, ConcurrentBag<string> acknowledged)
    {
        try
        {
            using var timeout = new CancellationTokenSource(s_publishTimeout);
            var result = await publisher.Client.PublishAsync(message, timeout.Token);
            if (result.IsSuccess)
                acknowledged.Add(id);
        }
        catch (Exception ex) when (ex is MqttCommunicationException or OperationCanceledException or InvalidOperationException)
        {
            // Never acknowledged: the publisher may not count on it.
        }
    }

    /// Connects <paramref name="clientId"/> to <paramref name="node"/> with clean start false until the node takes it:
    /// while the dead node's sessions are not adopted yet a CONNECT for one is refused with Server unavailable, and a
    /// connection may fail outright on a loaded node. A new client each attempt, its inbox listening before the CONNACK
    /// (the session's queued messages follow it at once).
    private static async Task<MqttNetClient> ReconnectAsync(ClusterNodes.Node node, string clientId)
    {
        var deadline = DateTime.UtcNow + s_reconnectDeadline;
        var attempts = 0;
        while (true)
        {
            attempts++;
            string outcome;
            MqttNetClient? client = null;
            try
            {
                client = await MqttNetClient.TryConnectAsync(node.Port, MqttProtocolVersion.V500, clientId,
                    o => o.WithCleanStart(false).WithSessionExpiryInterval(SessionExpiry));
                if (client.ConnectResult!.ResultCode == MqttClientConnectResultCode.Success)
                    return client;
                outcome = $"CONNACK {client.ConnectResult.ResultCode} {client.ConnectResult.ReasonString}";
            }
            catch (Exception ex) when (ex is MqttCommunicationException or OperationCanceledException)
            {
                outcome = $"{ex.GetType().Name}: {ex.Message}";
            }

            var refusal = client?.ConnectResult?.ResultCode;
            if (client is not null)
                await client.DisposeAsync();
            // Server unavailable is the one refusal a client should retry: any other is an answer.
            Assert.True(refusal is null or MqttClientConnectResultCode.ServerUnavailable,
                $"{clientId} reconnecting on port {node.Port} was refused: {outcome}\n{node.Process.Describe()}");
            Assert.True(DateTime.UtcNow < deadline,
                $"{clientId} could not reconnect on port {node.Port} within {s_reconnectDeadline.TotalSeconds} s ({attempts} attempts; last: {outcome})\n{node.Process.Describe()}");
            // A client's back-off between attempts, not a wait for a condition.
            await Task.Delay(200);
        }
    }

    /// The acknowledged ids neither of a subscriber's two connections received.
    private static List<string> Lost(HashSet<string> expected, MqttNetClient before, MqttNetClient after)
    {
        var received = before.Messages.Select(m => m.Payload).Concat(after.Messages.Select(m => m.Payload)).ToHashSet();
        return [.. expected.Where(id => !received.Contains(id))];
    }
}
