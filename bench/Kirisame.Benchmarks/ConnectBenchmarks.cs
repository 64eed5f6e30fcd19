using System.Buffers;
using BenchmarkDotNet.Attributes;
using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;

namespace Kirisame.Benchmarks;

/// CONNECT with credentials and a will, once per connection: materialised as classes, so it allocates.
[MemoryDiagnoser]
[BenchmarkCategory("Connect")]
public class ConnectBenchmarks : IDisposable
{
    private readonly MqttFrameReader _reader = new(Samples.MaximumPacketSize);
    private readonly byte[] _output = new byte[Samples.OutputBufferSize];
    private ConnectPacket _connect = null!;
    private ReadOnlySequence<byte> _input;

    [Params(ProtocolVersion.V311, ProtocolVersion.V500)]
    public ProtocolVersion Version { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _connect = Samples.ConnectWithWill(Version);
        _input = Samples.Frame(_connect, Version);
        var error = MqttDecoder.Decode(Samples.ReadWhole(_reader, _input), Version, out var decoded);
        var reencoded = decoded is null ? [] : MqttEncoder.Encode(decoded, Version);
        Samples.Check(error, reencoded.AsSpan().SequenceEqual(_input.FirstSpan), "CONNECT");
    }

    [Benchmark]
    public MqttPacket? Decode()
    {
        _reader.TryRead(_input, out var raw, out _, out _);
        MqttDecoder.Decode(raw, Version, out var packet);
        return packet;
    }

    [Benchmark]
    public int Encode() => MqttEncoder.Write(_output, _connect, Version);

    public void Dispose()
    {
        _reader.Dispose();
        GC.SuppressFinalize(this);
    }
}
