using System.Buffers;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Tests.Support;

namespace Kirisame.Protocol.Tests;

/// Lengths that claim more than the packet (or the server) holds must be refused from what has arrived,
/// without buffering or allocating what they claim.
public class HostileLengthTests
{
    private const int MaximumPacketSize = 256 * 1024;

    // PUBLISH whose Remaining Length is the largest a variable byte integer holds: 0xFF 0xFF 0xFF 0x7F = 268,435,455.
    private static readonly byte[] s_hugePublishHeader = [0x30, 0xFF, 0xFF, 0xFF, 0x7F];

    [Fact]
    public void RemainingLengthOfMaximum_WithA256KBLimit_IsRefusedFromTheFixedHeaderAlone()
    {
        var status = MqttFraming.TryReadHeader(new ReadOnlySequence<byte>(s_hugePublishHeader), MaximumPacketSize, out var header, out var error);
        Assert.Equal(268_435_455, header.RemainingLength);
        Assert.Equal(FrameStatus.Invalid, status);
        Assert.Equal(DecodeError.PacketTooLarge, error);
        Assert.Equal(ReasonCode.PacketTooLarge, DecodeErrors.ToReasonCode(error));
    }

    [Fact]
    public void RemainingLengthOfMaximum_ThroughTheFrameReader_IsRefusedWithoutAllocatingTheBody()
    {
        using var reader = new MqttFrameReader(MaximumPacketSize);
        var whole = new ReadOnlySequence<byte>(s_hugePublishHeader);
        var split = Segments.OneBytePerSegment(s_hugePublishHeader);
        reader.TryRead(whole, out _, out _, out _); // warm up

        var before = GC.GetAllocatedBytesForCurrentThread();
        var first = reader.TryRead(whole, out _, out var consumed, out var error);
        var second = reader.TryRead(split, out _, out var consumedSplit, out var errorSplit);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(FrameStatus.Invalid, first);
        Assert.Equal(DecodeError.PacketTooLarge, error);
        Assert.Equal(whole.Start, consumed);
        Assert.Equal(FrameStatus.Invalid, second);
        Assert.Equal(DecodeError.PacketTooLarge, errorSplit);
        Assert.Equal(split.Start, consumedSplit);
        Assert.True(allocated < 1024, $"Refusing the header allocated {allocated} bytes.");
    }

    [Fact]
    public void IncompleteHugeLength_NeedsMoreData()
    {
        // Three continuation bytes: the length is not known yet, so neither is whether it is too large.
        using var reader = new MqttFrameReader(MaximumPacketSize);
        Assert.Equal(FrameStatus.NeedMoreData, reader.TryRead(new ReadOnlySequence<byte>(s_hugePublishHeader[..4]), out _, out _, out _));
    }

    [Fact]
    public void PacketOfExactlyTheMaximumSize_IsAccepted_AndOneByteMore_IsRefused()
    {
        // PUBLISH QoS 0, topic "t", payload "ab": 2 + 3 + 2 = 7 bytes on the wire.
        byte[] packet = [0x30, 0x05, 0x00, 0x01, (byte)'t', (byte)'a', (byte)'b'];
        var buffer = new ReadOnlySequence<byte>(packet);
        using var exact = new MqttFrameReader(7);
        Assert.Equal(FrameStatus.Complete, exact.TryRead(buffer, out _, out _, out _));
        using var smaller = new MqttFrameReader(6);
        Assert.Equal(FrameStatus.Invalid, smaller.TryRead(buffer, out _, out var consumed, out var error));
        Assert.Equal(DecodeError.PacketTooLarge, error);
        Assert.Equal(buffer.Start, consumed);
    }

    [Fact]
    public void PropertyLengthOfMaximum_InASmallPublish_IsMalformedWithoutAllocating()
    {
        // v5 PUBLISH, topic "t", Property Length 268,435,455 (FF FF FF 7F) in a 9-byte body.
        byte[] packet = [0x30, 0x09, 0x00, 0x01, (byte)'t', 0xFF, 0xFF, 0xFF, 0x7F, 0x01, 0x01];
        var raw = new RawPacket(PacketType.Publish, 0, packet.AsMemory(2), packet.Length);
        MqttDecoder.DecodePublish(raw, ProtocolVersion.V500, out _); // warm up

        var before = GC.GetAllocatedBytesForCurrentThread();
        var error = MqttDecoder.DecodePublish(raw, ProtocolVersion.V500, out _);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(DecodeError.MalformedProperties, error);
        Assert.Equal(ReasonCode.MalformedPacket, DecodeErrors.ToReasonCode(error));
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void PropertyLengthOfMaximum_InAConnect_IsMalformed()
    {
        // v5 CONNECT whose Property Length claims 268,435,455 bytes.
        byte[] packet = [0x10, 0x11, 0x00, 0x04, .."MQTT"u8, 0x05, 0x02, 0x00, 0x3C, 0xFF, 0xFF, 0xFF, 0x7F, 0x00, 0x01, (byte)'c'];
        Assert.Equal(DecodeError.MalformedProperties, Frames.ErrorOf(new ReadOnlySequence<byte>(packet), ProtocolVersion.V500, out _));
    }

    [Fact]
    public void StringLengthBeyondThePacket_IsMalformed()
    {
        // PUBLISH whose topic length says 65,535 in a 4-byte body.
        byte[] packet = [0x30, 0x04, 0xFF, 0xFF, (byte)'a', (byte)'b'];
        var error = Frames.ErrorOf(new ReadOnlySequence<byte>(packet), ProtocolVersion.V311, out _);
        Assert.Equal(DecodeError.Truncated, error);
        Assert.Equal(ReasonCode.MalformedPacket, DecodeErrors.ToReasonCode(error));
    }
}
