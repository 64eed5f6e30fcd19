using System.Buffers;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;

namespace Kirisame.Protocol.Tests.Support;

/// Frames and decodes a buffer the way a connection does: MqttFrameReader, then MqttDecoder.
public static class Frames
{
    /// Larger than any packet: size limits are tested separately.
    public const int NoLimit = int.MaxValue;

    /// Reads one whole packet that must take exactly <paramref name="length"/> bytes from the start of the buffer.
    public static MqttPacket DecodeOne(in ReadOnlySequence<byte> buffer, ProtocolVersion version, long length)
    {
        using var reader = new MqttFrameReader(NoLimit);
        var status = reader.TryRead(buffer, out var raw, out var consumed, out var frameError);
        Assert.Equal(DecodeError.None, frameError);
        Assert.Equal(FrameStatus.Complete, status);
        Assert.Equal(length, buffer.Slice(buffer.Start, consumed).Length);
        Assert.Equal(length, raw.TotalLength);
        var error = MqttDecoder.Decode(raw, version, out var packet);
        Assert.Equal(DecodeError.None, error);
        Assert.NotNull(packet);
        // The body may live in the reader's scratch buffer, returned to the pool on dispose: keep a copy.
        return packet is PublishMessagePacket publish ? new PublishMessagePacket(publish.Publish.Detach()) : packet;
    }

    public static MqttPacket DecodeOne(byte[] bytes, ProtocolVersion version)
        => DecodeOne(new ReadOnlySequence<byte>(bytes), version, bytes.Length);

    /// The error a connection would see for these bytes: from framing if it refuses them, else from decoding.
    public static DecodeError ErrorOf(in ReadOnlySequence<byte> buffer, ProtocolVersion version, out FrameStatus status)
    {
        using var reader = new MqttFrameReader(NoLimit);
        status = reader.TryRead(buffer, out var raw, out var consumed, out var frameError);
        if (status == FrameStatus.Invalid)
        {
            Assert.Equal(buffer.Start, consumed);
            return frameError;
        }

        if (status == FrameStatus.NeedMoreData)
            return DecodeError.None;
        return MqttDecoder.Decode(raw, version, out _);
    }
}
