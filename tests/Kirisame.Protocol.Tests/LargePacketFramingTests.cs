using System.Buffers;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Primitives;
using Kirisame.Protocol.Tests.Support;

namespace Kirisame.Protocol.Tests;

/// What the frame reader tells about a packet still arriving, and what it keeps after a large one: with a
/// maximum packet size of megabytes, a connection reserves a large packet's memory before buffering it (from
/// <see cref="MqttFrameReader.PendingPacketLength"/>), and must not keep a large scratch buffer once done.
public class LargePacketFramingTests
{
    private const int MaximumPacketSize = 16 * 1024 * 1024;

    /// A QoS 0 PUBLISH to "t" of <paramref name="payloadLength"/> bytes.
    private static byte[] Publish(int payloadLength)
    {
        Span<byte> length = stackalloc byte[VariableByteInteger.MaxLength];
        var lengthBytes = VariableByteInteger.Write(length, 3 + payloadLength);
        var payload = new byte[payloadLength];
        new Random(payloadLength).NextBytes(payload);
        return [0x30, .. length[..lengthBytes], 0x00, 0x01, (byte)'t', .. payload];
    }

    [Fact]
    public void PendingPacketLength_IsTheWholeLength_OnceTheFixedHeaderIsThere()
    {
        var packet = Publish(1_000_000);
        using var reader = new MqttFrameReader(MaximumPacketSize);

        Assert.Equal(FrameStatus.NeedMoreData, reader.TryRead(new ReadOnlySequence<byte>(packet, 0, 2), out _, out _, out _));
        Assert.Equal(0, reader.PendingPacketLength); // two of the three length bytes: the length is not known yet

        Assert.Equal(FrameStatus.NeedMoreData, reader.TryRead(new ReadOnlySequence<byte>(packet, 0, 4), out _, out _, out _));
        Assert.Equal(packet.Length, reader.PendingPacketLength);

        Assert.Equal(FrameStatus.NeedMoreData, reader.TryRead(Segments.SplitAt(packet[..^1], 100), out _, out _, out _));
        Assert.Equal(packet.Length, reader.PendingPacketLength);

        Assert.Equal(FrameStatus.Complete, reader.TryRead(new ReadOnlySequence<byte>(packet), out var raw, out _, out _));
        Assert.Equal(0, reader.PendingPacketLength);
        Assert.Equal(packet.Length, raw.TotalLength);
    }

    [Fact]
    public void PendingPacketLength_IsZero_AfterARefusal()
    {
        using var reader = new MqttFrameReader(1000);
        var packet = Publish(1000);
        Assert.Equal(FrameStatus.Invalid, reader.TryRead(new ReadOnlySequence<byte>(packet, 0, 10), out _, out _, out var error));
        Assert.Equal(DecodeError.PacketTooLarge, error);
        Assert.Equal(0, reader.PendingPacketLength);
    }

    [Fact]
    public void ALargeBodyAcrossSegments_IsCopiedWhole_AndItsScratchBufferIsNotKeptForTheNextPacket()
    {
        var large = Publish(1_000_000);
        var small = Publish(100);
        using var reader = new MqttFrameReader(MaximumPacketSize);

        Assert.Equal(FrameStatus.Complete, reader.TryRead(Segments.SplitAt(large, large.Length / 2), out var raw, out _, out _));
        Assert.True(raw.Body.Span.SequenceEqual(large.AsSpan(4)));
        Assert.True(reader.ScratchLength >= 1_000_000);

        // The next call (the large packet is done with) lets it go, whatever that call finds.
        Assert.Equal(FrameStatus.Complete, reader.TryRead(Segments.SplitAt(small, 50), out raw, out _, out _));
        Assert.True(raw.Body.Span.SequenceEqual(small.AsSpan(2)));
        Assert.InRange(reader.ScratchLength, 1, MqttFrameReader.RetainedScratchLength);
    }
}
