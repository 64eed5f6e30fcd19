using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using Kirisame.Broker;
using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Packets;

namespace Kirisame.Benchmarks;

/// End to end through the broker with no sockets: a publisher's bytes go into one in-memory pipe, the
/// broker decodes, routes and encodes, and the subscriber's bytes come out of another. Per message this
/// measures the whole QoS 0 hot path, and its allocation budget is 0 bytes.
[MemoryDiagnoser]
[BenchmarkCategory(AllocationBudget.Category)]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "GlobalCleanup stops the broker.")]
public class RoutingBenchmarks
{
    private const int Messages = 1000;

    private MqttBroker _broker = null!;
    private Pipe _publisherIn = null!;
    private Pipe _publisherOut = null!;
    private Pipe _subscriberIn = null!;
    private Pipe _subscriberOut = null!;
    private byte[] _batch = null!;

    [Params(ProtocolVersion.V311, ProtocolVersion.V500)]
    public ProtocolVersion Version { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // Each invocation writes 1,000 messages in one go, which the broker reads in one batch: with the default
        // back-pressure threshold (1,000) the publisher would wait for the subscriber near the end of most batches,
        // and a wait allocates its waiter (~1 KB; docs/adr/0009). What is measured here is the path when nobody is
        // behind, so the threshold is above the batch.
        _broker = new MqttBroker(new BrokerOptions { SysInterval = 0, MaxQueuedMessages = 100_000, BackPressureThreshold = 100_000 });
        (_subscriberIn, _subscriberOut) = Connect("sub");
        (_publisherIn, _publisherOut) = Connect("pub");
        Send(_subscriberIn, new SubscribePacket { PacketId = 1, Subscriptions = [new TopicSubscription("bench/#", QualityOfService.AtMostOnce)] });
        Drain(_subscriberOut, MqttEncoder.GetSize(new SubAckPacket { PacketId = 1, ReasonCodes = [ReasonCode.GrantedQoS0] }, Version));

        var publish = new PublishPacket { Topic = "bench/topic"u8.ToArray(), Payload = new byte[64], QoS = QualityOfService.AtMostOnce };
        var size = MqttEncoder.GetPublishSize(publish, Version);
        _batch = new byte[size * Messages];
        for (var i = 0; i < Messages; i++)
            MqttEncoder.WritePublish(_batch.AsSpan(i * size), publish, Version);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _publisherIn.Writer.Complete();
        _subscriberIn.Writer.Complete();
        _broker.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
    }

    /// One publisher → one subscriber, QoS 0, 64-byte payload; the subscriber receives the same number of bytes.
    [Benchmark(OperationsPerInvoke = Messages)]
    public async Task RouteQoS0()
    {
        await _publisherIn.Writer.WriteAsync(_batch);
        var remaining = (long)_batch.Length;
        var reader = _subscriberOut.Reader;
        while (remaining > 0)
        {
            var result = await reader.ReadAsync();
            remaining -= result.Buffer.Length;
            reader.AdvanceTo(result.Buffer.End);
        }
    }

    private (Pipe In, Pipe Out) Connect(string clientId)
    {
        // Inline schedulers: the pipes themselves then schedule nothing, so what is measured is the broker's own
        // work (Kestrel's socket transport likewise schedules without allocating).
        var options = new PipeOptions(readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline, useSynchronizationContext: false);
        var toBroker = new Pipe(options);
        var fromBroker = new Pipe(options);
        _ = _broker.RunConnectionAsync(new Duplex(toBroker.Reader, fromBroker.Writer), new ConnectionInfo(clientId, null, null), CancellationToken.None);
        Send(toBroker, new ConnectPacket { ProtocolVersion = Version, ClientId = clientId });
        Drain(fromBroker, 1); // CONNACK
        return (toBroker, fromBroker);
    }

    private void Send(Pipe pipe, MqttPacket packet)
        => pipe.Writer.WriteAsync(MqttEncoder.Encode(packet, Version)).AsTask().GetAwaiter().GetResult();

    /// Reads and discards whatever the broker sent (at least <paramref name="atLeast"/> bytes, at least one read).
    private static void Drain(Pipe pipe, long atLeast)
    {
        var read = 0L;
        do
        {
            var result = pipe.Reader.ReadAsync().AsTask().GetAwaiter().GetResult();
            read += result.Buffer.Length;
            pipe.Reader.AdvanceTo(result.Buffer.End);
        }
        while (read < atLeast);
    }

    private sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
