using System.Net;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Management;

/// /metrics after known traffic: the figures of the `Kirisame` meter (docs/metrics.md), by QoS and by drop
/// reason, with labels that stay bounded.
public sealed class MetricsEndpointTests
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(20);

    /// Labels a series may carry: per QoS, reason, state, direction, histogram bucket, and the exporter's own.
    private static readonly string[] s_boundedLabels =
        ["qos", "reason", "state", "network_io_direction", "le", "otel_scope_name", "otel_scope_version",
            "service_name", "service_version", "service_instance_id", "telemetry_sdk_name", "telemetry_sdk_language", "telemetry_sdk_version"];

    [Fact]
    public async Task AfterKnownTraffic_MessagesByQoS_AndDropsByReason_AreExact()
    {
        var data = Directory.CreateTempSubdirectory("kirisame-metrics-");
        try
        {
            // RocksDB (the store's instruments too); queues of 2 messages (in memory, and a persistent queue on disk); topics of at most 40 bytes. The API is
            // open (no credentials, loopback), so /metrics needs none.
            await using var broker = await ManagedBroker.StartAsync(withCredentials: false,
                "--data-dir", data.FullName, "--durability", "none", "--Broker:MaxQueuedMessages", "2", "--Broker:MaxPersistentQueuedMessages", "2", "--Broker:MaxTopicLength", "40");
            await GenerateTrafficAsync(broker.MqttPort);

            var metrics = await PollAsync(broker, m =>
                m.Value("kirisame_messages_received_total", ("qos", "1")) == 7 && m.Value("kirisame_messages_dropped_total", ("reason", "topic_invalid")) == 1
                && m.Value("kirisame_messages_sent_total", ("qos", "0")) == 3);

            Assert.Equal(3, metrics.Value("kirisame_messages_received_total", ("qos", "0")));
            Assert.Equal(7, metrics.Value("kirisame_messages_received_total", ("qos", "1"))); // 2 delivered, 1 to $SYS, 4 queued
            Assert.Equal(1, metrics.Value("kirisame_messages_received_total", ("qos", "2")));
            Assert.Equal(3, metrics.Value("kirisame_messages_sent_total", ("qos", "0")));
            Assert.Equal(2, metrics.Value("kirisame_messages_sent_total", ("qos", "1")));
            Assert.Equal(1, metrics.Value("kirisame_messages_sent_total", ("qos", "2")));
            Assert.Equal(3 * 2, metrics.Value("kirisame_messages_sent_bytes_total", ("qos", "0"))); // "m0".."m2"
            Assert.Equal(2, metrics.Value("kirisame_messages_dropped_total", ("reason", "queue_full")));
            Assert.Equal(1, metrics.Value("kirisame_messages_dropped_total", ("reason", "not_authorized")));
            Assert.Equal(1, metrics.Value("kirisame_messages_dropped_total", ("reason", "topic_invalid")));
            Assert.Equal(0, metrics.Value("kirisame_messages_dropped_total", ("reason", "expired")));
            Assert.Equal(1, metrics.Value("kirisame_connections_refused_total", ("reason", "unsupported_protocol_version")));
            Assert.Equal(2, metrics.Value("kirisame_sessions_messages", ("state", "pending"))); // the offline session's queue
            Assert.Equal(1, metrics.Value("kirisame_store_healthy"));
            Assert.NotNull(metrics.Value("kirisame_store_commit_duration_seconds_count"));

            // Every instrument of docs/metrics.md is exposed.
            string[] expected =
            [
                "kirisame_connections", "kirisame_connections_opened_total", "kirisame_connections_refused_total", "kirisame_connections_faulted_total",
                "kirisame_packets_partial_bytes", "kirisame_packets_partial_waiting", "kirisame_packets_partial_timeouts_total",
                "kirisame_messages_received_total", "kirisame_messages_received_bytes_total", "kirisame_messages_sent_total",
                "kirisame_messages_sent_bytes_total", "kirisame_messages_dropped_total", "kirisame_network_io_bytes_total", "kirisame_sessions",
                "kirisame_sessions_messages", "kirisame_sessions_pending_bytes", "kirisame_backpressure_waits_total", "kirisame_sessions_slow_total",
                "kirisame_subscriptions", "kirisame_retained_messages", "kirisame_store_commit_duration_seconds_bucket",
                "kirisame_store_commit_operations_bucket", "kirisame_store_write_failures_total", "kirisame_store_healthy",
            ];
            Assert.Empty(expected.Except(metrics.Names));
            Assert.Empty(metrics.LabelNames.Except(s_boundedLabels));
            Assert.DoesNotContain("metrics-publisher", metrics.Text, StringComparison.Ordinal); // no client ids
            Assert.DoesNotContain("m/a", metrics.Text, StringComparison.Ordinal); // no topics
        }
        finally
        {
            data.Delete(recursive: true);
        }
    }

    /// 3/2/1 messages at QoS 0/1/2 delivered; 1 to $SYS (not authorized); 1 with a topic over 40 bytes; 4 QoS 1 for
    /// an offline session whose queue holds 2; 1 CONNECT refused (an unknown protocol version).
    private static async Task GenerateTrafficAsync(int port)
    {
        await using (var offline = await MqttNetClient.ConnectAsync(port, MqttProtocolVersion.V500, "metrics-offline",
                         b => b.WithCleanStart(false).WithSessionExpiryInterval(600)))
            await offline.SubscribeAsync("q/#", MqttQualityOfServiceLevel.AtLeastOnce);
        await using var subscriber = await MqttNetClient.ConnectAsync(port, MqttProtocolVersion.V500, "metrics-subscriber");
        await subscriber.SubscribeAsync("m/#", MqttQualityOfServiceLevel.ExactlyOnce);
        await using var publisher = await MqttNetClient.ConnectAsync(port, MqttProtocolVersion.V500, "metrics-publisher");
        for (var i = 0; i < 3; i++)
            await publisher.PublishAsync("m/a", $"m{i}", MqttQualityOfServiceLevel.AtMostOnce);
        for (var i = 0; i < 2; i++)
            await publisher.PublishAsync("m/b", $"one{i}", MqttQualityOfServiceLevel.AtLeastOnce);
        await publisher.PublishAsync("m/c", "two", MqttQualityOfServiceLevel.ExactlyOnce);
        await subscriber.WaitForMessagesAsync(6);

        var refused = await publisher.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("$SYS/x").WithPayload("no")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, refused.ReasonCode);
        for (var i = 0; i < 4; i++)
            await publisher.PublishAsync("q/x", $"queued{i}", MqttQualityOfServiceLevel.AtLeastOnce);

        await using (var longTopic = await MqttNetClient.ConnectAsync(port, MqttProtocolVersion.V500, "metrics-long-topic"))
        {
            await longTopic.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("m/" + new string('x', 60)).WithPayload("long").Build());
        }

        await SendConnectOfAnUnknownVersionAsync(port);
        await subscriber.PingAsync();
    }

    /// A CONNECT of protocol level 6, which no MQTT client library will send: refused (0x84).
    private static async Task SendConnectOfAnUnknownVersionAsync(int port)
    {
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        byte[] connect = [0x10, 13, 0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 6, 0x02, 0, 60, 0, 1, (byte)'x'];
        await socket.SendAsync(connect);
        var answer = new byte[4];
        using var deadline = new CancellationTokenSource(s_deadline);
        var read = await socket.ReceiveAsync(answer, deadline.Token);
        Assert.True(read >= 4 && answer[0] == 0x20, $"expected a CONNACK, read {read} bytes");
    }

    private static async Task<PrometheusText> PollAsync(ManagedBroker broker, Func<PrometheusText, bool> until)
    {
        PrometheusText? last = null;
        var done = await Poll.UntilAsync(() =>
        {
            using var response = broker.Client(Caller.Nobody).GetAsync("/metrics").GetAwaiter().GetResult();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            last = new PrometheusText(response.Content.ReadAsStringAsync().GetAwaiter().GetResult());
            return until(last);
        }, s_deadline);
        Assert.True(done, "the expected figures did not appear in /metrics:\n" + last?.Text);
        return last!;
    }
}
