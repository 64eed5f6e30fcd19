using System.Buffers;

namespace Kirisame.Protocol.Primitives;

/// The variable byte integer of section 1.5.5: 7 bits a byte, at most 4 bytes, at most 268,435,455.
public static class VariableByteInteger
{
    public const int MaxValue = 268_435_455;
    public const int MaxLength = 4;

    public static int GetSize(int value) => value switch
    {
        < 128 => 1,
        < 16_384 => 2,
        < 2_097_152 => 3,
        _ => 4,
    };

    public static int Write(Span<byte> destination, int value)
    {
        var i = 0;
        do
        {
            var digit = (byte)(value & 0x7F);
            value >>= 7;
            if (value > 0)
                digit |= 0x80;
            destination[i++] = digit;
        }
        while (value > 0);
        return i;
    }

    /// Reads from a span. Returns None, Truncated (ran out of bytes) or MalformedVariableByteInteger
    /// (a fifth byte, or a longer encoding than needed [MQTT-1.5.5-1]).
    public static DecodeError TryRead(ReadOnlySpan<byte> source, out int value, out int length)
    {
        value = 0;
        length = 0;
        var multiplier = 0;
        while (true)
        {
            if (length == source.Length)
                return DecodeError.Truncated;
            var b = source[length++];
            value |= (b & 0x7F) << multiplier;
            if ((b & 0x80) == 0)
                return b == 0 && length > 1 ? DecodeError.MalformedVariableByteInteger : DecodeError.None;
            if (length == MaxLength)
                return DecodeError.MalformedVariableByteInteger;
            multiplier += 7;
        }
    }

    /// Reads from the start of a sequence without copying it.
    public static DecodeError TryRead(in ReadOnlySequence<byte> source, long offset, out int value, out int length)
    {
        Span<byte> bytes = stackalloc byte[MaxLength];
        var available = (int)Math.Min(MaxLength, source.Length - offset);
        if (available <= 0)
        {
            value = 0;
            length = 0;
            return DecodeError.Truncated;
        }

        source.Slice(offset, available).CopyTo(bytes);
        return TryRead(bytes[..available], out value, out length);
    }
}
