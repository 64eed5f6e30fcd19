using System.Text;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Tracing;

/// Telemetry:TraceSampleRatio (ADR 0019): the broker's spans go to an OTLP collector, and a publisher's W3C
/// `traceparent` user property ties them, and the subscriber, into the publisher's trace.
public sealed class TracingTests
{
    [Fact]
    public async Task PublishWithTraceparent_ReachesTheSubscriberInTheSameTrace_AndTheBrokerSpansJoinIt()
    {
        using var collector = new OtlpCollector();
        // Ratio 0: only what a publisher's sampled traceparent starts is traced (parent-based sampling).
        await using var server = await KirisameProcess.StartAsync(["--Telemetry:OtlpEndpoint", collector.Endpoint,
            "--Telemetry:OtlpProtocol", "HttpProtobuf", "--Telemetry:ExportInterval", "00:00:01", "--Telemetry:TraceSampleRatio", "0"]);
        var topic = Unique.Topic("traced");
        await using var subscriber = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500);
        await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);
        await using var publisher = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500);
        await publisher.PublishAsync(topic, "untraced", MqttQualityOfServiceLevel.AtLeastOnce);

        var traceId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        var publisherSpan = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()[..8]);
        var traceParent = $"00-{traceId}-{publisherSpan}-01";
        var message = new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload("traced")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithUserProperty("traceparent", new ReadOnlyMemory<byte>(Encoding.UTF8.GetBytes(traceParent)))
            .Build();
        using (var cts = new CancellationTokenSource(MqttNetClient.Timeout))
            Assert.True((await publisher.Client.PublishAsync(message, cts.Token)).IsSuccess);

        await subscriber.WaitForMessagesAsync(2);
        var delivered = subscriber.ApplicationMessages[1];
        var received = Assert.Single(delivered.UserProperties, p => p.Name == "traceparent").ReadValueAsString();
        Assert.Equal(traceId, received.Split('-')[1]); // the subscriber continues the publisher's trace
        Assert.Empty(subscriber.ApplicationMessages[0].UserProperties ?? []);

        string[] expected = ["publish", "authorize", "deliver", "store commit"];
        var arrived = await Poll.UntilAsync(() => expected.All(name => collector.Spans.Any(s => s.TraceId == traceId && s.Name == name)), TimeSpan.FromSeconds(30));
        Assert.True(arrived, $"spans of trace {traceId}: {string.Join(", ", collector.Spans)}");
        var spans = collector.Spans;
        var publish = Assert.Single(spans, s => s.Name == "publish");
        Assert.Equal(publisherSpan, publish.ParentSpanId); // the broker's span is the publisher's child
        foreach (var step in expected[1..])
        {
            var span = Assert.Single(spans, s => s.Name == step);
            Assert.Equal(traceId, span.TraceId);
            Assert.Equal(publish.SpanId, span.ParentSpanId);
        }

        // Nothing else was sampled: not the message without a traceparent, nor the connections (ratio 0).
        Assert.All(spans, s => Assert.Equal(traceId, s.TraceId));
    }

    [Fact]
    public async Task AMessagePublishedThroughTheApi_IsTracedAsAClientsIs_AndTheBrokersOwnAreNot()
    {
        using var collector = new OtlpCollector();
        // $SYS every second: had the broker's own messages been traced, their spans would be there too.
        await using var broker = await Management.ManagedBroker.StartAsync(false, "--Telemetry:OtlpEndpoint", collector.Endpoint,
            "--Telemetry:OtlpProtocol", "HttpProtobuf", "--Telemetry:ExportInterval", "00:00:01", "--Telemetry:TraceSampleRatio", "1",
            "--Broker:SysInterval", "1");
        var topic = Unique.Topic("api-traced");
        await using var subscriber = await MqttNetClient.ConnectAsync(broker.MqttPort, MqttProtocolVersion.V500);
        await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);

        var published = await broker.SendAsync(HttpMethod.Post, "/api/v1/publish", new { topic, payload = "from the API", qos = 1 });
        Assert.Equal(System.Net.HttpStatusCode.OK, published.Status);
        await subscriber.WaitForMessagesAsync(1);

        string[] steps = ["authorize", "deliver", "store commit"];
        Assert.True(await Poll.UntilAsync(() => collector.Spans.Any(s => s.Name == "publish")
            && steps.All(step => collector.Spans.Any(s => s.Name == step)), TimeSpan.FromSeconds(30)), $"spans: {string.Join(", ", collector.Spans)}");

        // The broker publishes $SYS after that: seen by a subscriber (the first is the retained one)...
        await using (var sys = await MqttNetClient.ConnectAsync(broker.MqttPort, MqttProtocolVersion.V500))
        {
            await sys.SubscribeAsync("$SYS/broker/uptime", MqttQualityOfServiceLevel.AtMostOnce);
            await sys.WaitForMessagesAsync(2);
        }

        // ... and a second message through the API after them is exported: spans go out in the order they end, so
        // a $SYS publish span would be in by then.
        var second = await broker.SendAsync(HttpMethod.Post, "/api/v1/publish", new { topic = topic + "/second", payload = "marker" });
        Assert.Equal(System.Net.HttpStatusCode.OK, second.Status);
        Assert.True(await Poll.UntilAsync(() => collector.Spans.Count(s => s.Name == "publish") >= 2, TimeSpan.FromSeconds(30)));
        var spans = collector.Spans;
        Assert.Equal(2, spans.Count(s => s.Name == "publish"));
        var publish = spans.First(s => s.Name == "publish");
        foreach (var step in steps)
            Assert.Equal(publish.SpanId, spans.First(s => s.Name == step).ParentSpanId);
    }

    [Fact]
    public async Task SampleRatioOne_TracesConnectionsAsShortSpans()
    {
        using var collector = new OtlpCollector();
        await using var server = await KirisameProcess.StartAsync(["--Telemetry:OtlpEndpoint", collector.Endpoint,
            "--Telemetry:OtlpProtocol", "HttpProtobuf", "--Telemetry:ExportInterval", "00:00:01", "--Telemetry:TraceSampleRatio", "1"]);
        var client = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500);
        await client.DisposeAsync();

        Assert.True(await Poll.UntilAsync(() => collector.Spans.Any(s => s.Name == "connect") && collector.Spans.Any(s => s.Name == "disconnect"),
            TimeSpan.FromSeconds(30)), $"spans: {string.Join(", ", collector.Spans)}");
        Assert.All(collector.Spans.Where(s => s.Name is "connect" or "disconnect"), s => Assert.Equal("", s.ParentSpanId));
    }

    [Fact]
    public async Task TraceSampleRatio_OutOfRangeOrWithoutAnEndpoint_IsRefusedNamingTheKey()
    {
        var range = await KirisameProcess.RunToCompletionAsync(["serve", "--in-memory", "--Telemetry:OtlpEndpoint", "http://127.0.0.1:4318",
            "--Telemetry:TraceSampleRatio", "1.5"], TimeSpan.FromSeconds(30));
        Assert.Equal(2, range.ExitCode);
        Assert.Contains("Telemetry:TraceSampleRatio must be between 0 and 1", range.Stderr, StringComparison.Ordinal);
        var alone = await KirisameProcess.RunToCompletionAsync(["serve", "--in-memory", "--Telemetry:TraceSampleRatio", "0.1"], TimeSpan.FromSeconds(30));
        Assert.Equal(2, alone.ExitCode);
        Assert.Contains("Telemetry:TraceSampleRatio needs Telemetry:OtlpEndpoint", alone.Stderr, StringComparison.Ordinal);
    }
}
