using System.Buffers;
using BenchmarkDotNet.Attributes;
using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;

namespace Kirisame.Benchmarks;

/// SUBSCRIBE with ten filters: decoding validates and materialises each filter as a string.
[MemoryDiagnoser]
[BenchmarkCategory("Subscribe")]
public class SubscribeBenchmarks : IDisposable
{
    private readonly MqttFrameReader _reader = new(Samples.MaximumPacketSize);
    private readonly byte[] _output = new byte[Samples.OutputBufferSize];
    private SubscribePacket _subscribe = null!;
    private ReadOnlySequence<byte> _input;

    [Params(ProtocolVersion.V311, ProtocolVersion.V500)]
    public ProtocolVersion Version { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _subscribe = Samples.SubscribeTenFilters();
        _input = Samples.Frame(_subscribe, Version);
        var error = MqttDecoder.Decode(Samples.ReadWhole(_reader, _input), Version, out var decoded);
        var reencoded = decoded is null ? [] : MqttEncoder.Encode(decoded, Version);
        Samples.Check(error, reencoded.AsSpan().SequenceEqual(_input.FirstSpan), "SUBSCRIBE");
    }

    [Benchmark]
    public MqttPacket? Decode()
    {
        _reader.TryRead(_input, out var raw, out _, out _);
        MqttDecoder.Decode(raw, Version, out var packet);
        return packet;
    }

    [Benchmark]
    public int Encode() => MqttEncoder.Write(_output, _subscribe, Version);

    public void Dispose()
    {
        _reader.Dispose();
        GC.SuppressFinalize(this);
    }
}
