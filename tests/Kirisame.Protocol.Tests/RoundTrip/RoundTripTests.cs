using System.Buffers;
using CsCheck;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Tests.Support;
using Kirisame.Protocol.Tests.Vectors;

namespace Kirisame.Protocol.Tests.RoundTrip;

public class RoundTripTests
{
    private const long Iterations = 2_000;

    public static TheoryData<ProtocolVersion> Versions => [ProtocolVersion.V310, ProtocolVersion.V311, ProtocolVersion.V500];

    /// decode(encode(x)) == x, and encoding the decoded packet gives the same bytes again.
    [Theory]
    [MemberData(nameof(Versions))]
    public void EveryPacket_EncodeThenDecode_GivesItBack(ProtocolVersion version)
        => Generators.AnyPacket(version).Sample(packet =>
        {
            var bytes = MqttEncoder.Encode(packet, version);
            Assert.Equal(bytes.Length, MqttEncoder.GetSize(packet, version));
            var decoded = Frames.DecodeOne(bytes, version);
            PacketAssert.Equal(packet, decoded);
            Assert.Equal(Wire.Hex(bytes), Wire.Hex(MqttEncoder.Encode(decoded, version)));
        }, iter: Iterations, print: p => $"{p.Type}: {Wire.Hex(MqttEncoder.Encode(p, version))}");

    [Theory]
    [MemberData(nameof(Versions))]
    public void Publish_WritePublishMatchesEncodeAndPacketIdOffset(ProtocolVersion version)
        => Generators.Publish(version).Sample(packet =>
        {
            var publish = ((PublishMessagePacket)packet).Publish;
            var expected = MqttEncoder.Encode(packet, version);
            var buffer = new byte[MqttEncoder.GetPublishSize(publish, version)];
            Assert.Equal(buffer.Length, MqttEncoder.WritePublish(buffer, publish, version));
            Assert.Equal(expected, buffer);
            var writer = new ArrayBufferWriter<byte>();
            MqttEncoder.WritePublish(writer, publish, version);
            Assert.Equal(expected, writer.WrittenSpan.ToArray());
            if (publish.QoS != QualityOfService.AtMostOnce)
            {
                var offset = MqttEncoder.GetPacketIdOffset(publish, version);
                Assert.Equal(publish.PacketId, (buffer[offset] << 8) | buffer[offset + 1]);
            }
        }, iter: Iterations / 2);

    /// Arbitrary changes to valid vectors never throw; whatever still decodes is stable:
    /// decode(encode(decode(bytes))) == decode(bytes).
    [Fact]
    public void MutatedVectors_NeverThrow_AndWhatDecodesIsStable()
    {
        var vectors = MqttVectors.Valid;
        var gen = Gen.Select(Gen.Int[0, vectors.Count - 1], Gen.Select(Gen.Int[0, 300], Gen.Byte, Gen.Int[0, 2]).Array[1, 3],
            (index, edits) => (Vector: vectors[index], Bytes: Mutate(vectors[index].Bytes, edits)));
        gen.Sample(sample =>
        {
            var buffer = new ReadOnlySequence<byte>(sample.Bytes);
            using var reader = new MqttFrameReader(Frames.NoLimit);
            if (reader.TryRead(buffer, out var raw, out _, out _) != FrameStatus.Complete)
                return;
            if (MqttDecoder.Decode(raw, sample.Vector.Version, out var first) != DecodeError.None)
                return;
            var version = first is ConnectPacket connect ? connect.ProtocolVersion : sample.Vector.Version;
            var bytes = MqttEncoder.Encode(first!, version);
            var second = Frames.DecodeOne(bytes, version);
            PacketAssert.Equal(first!, second);
        }, iter: Iterations * 5, print: s => $"{s.Vector.Name}: {Wire.Hex(s.Bytes)}");
    }

    // Each edit: kind 0 overwrites a byte, 1 inserts one, 2 removes one, at position % length.
    private static byte[] Mutate(byte[] bytes, (int Position, byte Value, int Kind)[] edits)
    {
        var list = bytes.ToList();
        foreach (var (position, value, kind) in edits)
        {
            var at = position % (list.Count + 1);
            switch (kind)
            {
                case 0 when at < list.Count:
                    list[at] = value;
                    break;
                case 1:
                    list.Insert(at, value);
                    break;
                case 2 when at < list.Count:
                    list.RemoveAt(at);
                    break;
            }
        }

        return [.. list];
    }
}
