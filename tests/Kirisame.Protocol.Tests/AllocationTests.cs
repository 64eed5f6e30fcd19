using System.Buffers;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;
using static Kirisame.Protocol.Tests.Support.Wire;

namespace Kirisame.Protocol.Tests;

/// The QoS 0 hot path allocates nothing. Measured as allocated bytes on this thread over many iterations after
/// a warm-up: a count, not a timing, so it is deterministic.
public class AllocationTests
{
    private const int Iterations = 1_000;

    public static TheoryData<ProtocolVersion> Versions => [ProtocolVersion.V311, ProtocolVersion.V500];

    /// A 64-byte QoS 0 PUBLISH to "sensors/t1".
    private static byte[] Publish64(ProtocolVersion version)
    {
        var bytes = version == ProtocolVersion.V500
            ? Bytes(0x30, 0x3E, 0x00, 0x0A, "sensors/t1", 0x00, new byte[49]) // 2 + 12 + 1 (property length) + 49
            : Bytes(0x30, 0x3E, 0x00, 0x0A, "sensors/t1", new byte[50]);      // 2 + 12 + 50
        Assert.Equal(64, bytes.Length);
        return bytes;
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void FramingAndDecodingA64BytePublish_AllocatesNothing(ProtocolVersion version)
    {
        var bytes = Publish64(version);
        var buffer = new ReadOnlySequence<byte>(bytes);
        using var reader = new MqttFrameReader(256 * 1024);
        var payloadBytes = 0L;

        for (var i = 0; i < 100; i++)
            payloadBytes += ReadOne(reader, buffer, version);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Iterations; i++)
            payloadBytes += ReadOne(reader, buffer, version);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal((Iterations + 100) * (version == ProtocolVersion.V500 ? 49L : 50L), payloadBytes);
    }

    // Returns the payload length, or -1 if anything failed, so the loop itself makes no assertions.
    private static int ReadOne(MqttFrameReader reader, in ReadOnlySequence<byte> buffer, ProtocolVersion version)
    {
        if (reader.TryRead(buffer, out var raw, out _, out _) != FrameStatus.Complete)
            return -1;
        if (MqttDecoder.DecodePublish(raw, version, out var publish) != DecodeError.None)
            return -1;
        return publish.Topic.Length == 10 ? publish.Payload.Length : -1;
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void EncodingA64BytePublishIntoAPreallocatedBuffer_AllocatesNothing(ProtocolVersion version)
    {
        var bytes = Publish64(version);
        var raw = new RawPacket(PacketType.Publish, 0, bytes.AsMemory(2), bytes.Length);
        Assert.Equal(DecodeError.None, MqttDecoder.DecodePublish(raw, version, out var publish));
        var destination = new byte[256];
        var written = 0L;

        for (var i = 0; i < 100; i++)
            written += MqttEncoder.WritePublish(destination, publish, version);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Iterations; i++)
            written += MqttEncoder.WritePublish(destination, publish, version) + MqttEncoder.GetPublishSize(publish, version);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(100 * 64L + Iterations * 128L, written);
        Assert.Equal(Hex(bytes), Hex(destination.AsSpan(0, 64)));
    }

    [Fact]
    public void DecodingAndWritingAPubAck_AllocatesNothing()
    {
        byte[] bytes = [0x40, 0x02, 0x00, 0x07];
        var raw = new RawPacket(PacketType.PubAck, 0, bytes.AsMemory(2), bytes.Length);
        var destination = new byte[5];
        var sum = 0L;

        for (var i = 0; i < 100; i++)
            sum += AckOnce(raw, destination);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Iterations; i++)
            sum += AckOnce(raw, destination);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal((Iterations + 100) * (7L + 4L), sum);
        Assert.Equal(bytes, destination[..4]);
    }

    private static int AckOnce(in RawPacket raw, byte[] destination)
    {
        if (MqttDecoder.DecodePublishAck(raw, ProtocolVersion.V500, out var id, out var reason) != DecodeError.None)
            return -1;
        return id + MqttEncoder.WritePublishAck(destination, PacketType.PubAck, id, reason, ProtocolVersion.V500);
    }
}
