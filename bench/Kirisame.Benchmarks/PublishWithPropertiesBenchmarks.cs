using System.Buffers;
using BenchmarkDotNet.Attributes;
using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;

namespace Kirisame.Benchmarks;

/// A v5 QoS 1 PUBLISH carrying message expiry, content type, response topic, correlation data and two
/// user properties: what the property parser costs on top of the QoS 0 path.
[MemoryDiagnoser]
[BenchmarkCategory("Publish")]
public class PublishWithPropertiesBenchmarks : IDisposable
{
    private readonly MqttFrameReader _reader = new(Samples.MaximumPacketSize);
    private readonly byte[] _output = new byte[Samples.OutputBufferSize];
    private PublishPacket _publish;
    private ReadOnlySequence<byte> _input;

    /// Properties exist only in v5; a one-value parameter so the joined summary table names the version.
    [Params(ProtocolVersion.V500)]
    public ProtocolVersion Version { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _publish = Samples.Qos1PublishWithProperties();
        _input = Samples.Frame(_publish, Version);
        var error = MqttDecoder.DecodePublish(Samples.ReadWhole(_reader, _input), Version, out var decoded);
        Samples.Check(error, decoded.ContentEquals(_publish), "QoS 1 PUBLISH with properties");
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
