using System.Buffers;
using BenchmarkDotNet.Attributes;
using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;

namespace Kirisame.Benchmarks;

/// The QoS 0 hot path: a 64-byte payload framed and decoded, and encoded. Must not allocate
/// (docs: "Per-message allocations on the QoS 0 path are a bug"); the --budget mode enforces it.
[MemoryDiagnoser]
[BenchmarkCategory(AllocationBudget.Category, "Publish")]
public class PublishQos0Benchmarks : IDisposable
{
    private readonly MqttFrameReader _reader = new(Samples.MaximumPacketSize);
    private readonly byte[] _output = new byte[Samples.OutputBufferSize];
    private PublishPacket _publish;
    private ReadOnlySequence<byte> _input;

    [Params(ProtocolVersion.V311, ProtocolVersion.V500)]
    public ProtocolVersion Version { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _publish = Samples.Qos0Publish();
        _input = Samples.Frame(_publish, Version);
        var error = MqttDecoder.DecodePublish(Samples.ReadWhole(_reader, _input), Version, out var decoded);
        Samples.Check(error, decoded.ContentEquals(_publish), "QoS 0 PUBLISH");
    }

    [Benchmark]
    public PublishPacket Decode()
    {
        _reader.TryRead(_input, out var raw, out _, out _);
        MqttDecoder.DecodePublish(raw, Version, out var publish);
        return publish;
    }

    [Benchmark]
    public int Encode() => MqttEncoder.WritePublish(_output, _publish, Version);

    public void Dispose()
    {
        _reader.Dispose();
        GC.SuppressFinalize(this);
    }
}
