using System.Buffers.Binary;
using System.Text.Unicode;

namespace Kirisame.Protocol.Primitives;

/// Reads MQTT data types from a contiguous packet body. Each method returns a <see cref="DecodeError"/>
/// and advances only on success; strings and binary data come back as (offset, length) so callers can
/// slice the memory they hold without copying.
internal ref struct SpanReader(ReadOnlySpan<byte> span)
{
    private readonly ReadOnlySpan<byte> _span = span;

    public int Position { get; private set; }

    public readonly int Remaining => _span.Length - Position;

    public readonly ReadOnlySpan<byte> Span => _span;

    public DecodeError ReadByte(out byte value)
    {
        if (Remaining < 1)
        {
            value = 0;
            return DecodeError.Truncated;
        }

        value = _span[Position++];
        return DecodeError.None;
    }

    public DecodeError ReadUInt16(out ushort value)
    {
        if (Remaining < 2)
        {
            value = 0;
            return DecodeError.Truncated;
        }

        value = BinaryPrimitives.ReadUInt16BigEndian(_span[Position..]);
        Position += 2;
        return DecodeError.None;
    }

    public DecodeError ReadUInt32(out uint value)
    {
        if (Remaining < 4)
        {
            value = 0;
            return DecodeError.Truncated;
        }

        value = BinaryPrimitives.ReadUInt32BigEndian(_span[Position..]);
        Position += 4;
        return DecodeError.None;
    }

    public DecodeError ReadVariableByteInteger(out int value)
    {
        var error = VariableByteInteger.TryRead(_span[Position..], out value, out var length);
        if (error == DecodeError.None)
            Position += length;
        return error;
    }

    /// Two-byte length then that many bytes (section 1.5.6).
    public DecodeError ReadBinary(out int offset, out int length)
    {
        offset = 0;
        length = 0;
        if (Remaining < 2)
            return DecodeError.Truncated;
        var len = BinaryPrimitives.ReadUInt16BigEndian(_span[Position..]);
        if (Remaining - 2 < len)
            return DecodeError.Truncated;
        offset = Position + 2;
        length = len;
        Position += 2 + len;
        return DecodeError.None;
    }

    /// A UTF-8 encoded string (section 1.5.4): well-formed UTF-8 [MQTT-1.5.4-1] without U+0000 [MQTT-1.5.4-2].
    public DecodeError ReadString(out int offset, out int length)
    {
        var start = Position;
        var error = ReadBinary(out offset, out length);
        if (error != DecodeError.None)
            return error;
        error = Utf8Rules.Validate(_span.Slice(offset, length));
        if (error != DecodeError.None)
            Position = start;
        return error;
    }

    public DecodeError ReadString(out string value)
    {
        var error = ReadString(out var offset, out var length);
        value = error == DecodeError.None ? System.Text.Encoding.UTF8.GetString(_span.Slice(offset, length)) : "";
        return error;
    }

    public DecodeError ReadBinary(out byte[] value)
    {
        var error = ReadBinary(out var offset, out var length);
        value = error == DecodeError.None ? _span.Slice(offset, length).ToArray() : [];
        return error;
    }

    public void Skip(int count) => Position += count;
}

internal static class Utf8Rules
{
    /// Utf8.IsValid refuses overlong forms and encoded surrogates (U+D800..U+DFFF), as [MQTT-1.5.4-1] asks.
    public static DecodeError Validate(ReadOnlySpan<byte> utf8)
    {
        if (!Utf8.IsValid(utf8))
            return DecodeError.InvalidUtf8;
        return utf8.Contains((byte)0) ? DecodeError.NullCharacterInString : DecodeError.None;
    }
}
