using System.Buffers;
using Kirisame.Protocol.Primitives;
using Kirisame.Protocol.Tests.Support;

namespace Kirisame.Protocol.Tests;

/// The boundaries of the table in section 1.5.5.
public class VariableByteIntegerTests
{
    [Theory]
    [InlineData(0, new byte[] { 0x00 })]
    [InlineData(127, new byte[] { 0x7F })]
    [InlineData(128, new byte[] { 0x80, 0x01 })]
    [InlineData(16_383, new byte[] { 0xFF, 0x7F })]
    [InlineData(16_384, new byte[] { 0x80, 0x80, 0x01 })]
    [InlineData(2_097_151, new byte[] { 0xFF, 0xFF, 0x7F })]
    [InlineData(2_097_152, new byte[] { 0x80, 0x80, 0x80, 0x01 })]
    [InlineData(268_435_455, new byte[] { 0xFF, 0xFF, 0xFF, 0x7F })]
    public void Boundary_ReadsAndWrites(int value, byte[] encoded)
    {
        Assert.Equal(DecodeError.None, VariableByteInteger.TryRead(encoded, out var read, out var length));
        Assert.Equal(value, read);
        Assert.Equal(encoded.Length, length);
        Assert.Equal(DecodeError.None, VariableByteInteger.TryRead(Segments.OneBytePerSegment([0x30, .. encoded]), 1, out read, out length));
        Assert.Equal(value, read);
        Assert.Equal(encoded.Length, length);
        var written = new byte[4];
        Assert.Equal(encoded.Length, VariableByteInteger.Write(written, value));
        Assert.Equal(encoded, written[..encoded.Length]);
        Assert.Equal(encoded.Length, VariableByteInteger.GetSize(value));
    }

    [Theory]
    [InlineData(new byte[] { 0x80, 0x80, 0x80, 0x80, 0x01 })] // a fifth byte
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF })]       // a fourth byte with the continuation bit
    [InlineData(new byte[] { 0x80, 0x00 })]                   // 0 in two bytes [MQTT-1.5.5-1]
    [InlineData(new byte[] { 0xFF, 0x80, 0x00 })]             // 127 in three bytes
    [InlineData(new byte[] { 0x80, 0x80, 0x80, 0x00 })]       // 0 in four bytes
    public void NonMinimalOrOverlongEncoding_IsMalformed(byte[] encoded)
        => Assert.Equal(DecodeError.MalformedVariableByteInteger, VariableByteInteger.TryRead(encoded, out _, out _));

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 0x80 })]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF })]
    public void UnfinishedEncoding_IsTruncated(byte[] encoded)
    {
        Assert.Equal(DecodeError.Truncated, VariableByteInteger.TryRead(encoded, out _, out _));
        Assert.Equal(DecodeError.Truncated, VariableByteInteger.TryRead(new ReadOnlySequence<byte>(encoded), 0, out _, out _));
    }
}
