using System.Buffers.Binary;

namespace Kirisame.Protocol.Primitives;

/// Writes MQTT data types into a span sized beforehand by the matching GetSize methods.
internal ref struct SpanWriter(Span<byte> span)
{
    private readonly Span<byte> _span = span;

    public int Position { get; private set; }

    public void WriteByte(byte value) => _span[Position++] = value;

    public void WriteUInt16(ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(_span[Position..], value);
        Position += 2;
    }

    public void WriteUInt32(uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(_span[Position..], value);
        Position += 4;
    }

    public void WriteVariableByteInteger(int value) => Position += VariableByteInteger.Write(_span[Position..], value);

    public void WriteBinary(ReadOnlySpan<byte> value)
    {
        WriteUInt16(checked((ushort)value.Length));
        WriteRaw(value);
    }

    public void WriteString(string value)
    {
        var length = System.Text.Encoding.UTF8.GetBytes(value, _span[(Position + 2)..]);
        BinaryPrimitives.WriteUInt16BigEndian(_span[Position..], checked((ushort)length));
        Position += 2 + length;
    }

    public void WriteRaw(ReadOnlySpan<byte> value)
    {
        value.CopyTo(_span[Position..]);
        Position += value.Length;
    }
}

internal static class Sizes
{
    public static int String(string value)
    {
        var length = System.Text.Encoding.UTF8.GetByteCount(value);
        if (length > ushort.MaxValue)
            throw new ArgumentException($"A string of {length} UTF-8 bytes does not fit MQTT's 65,535.", nameof(value));
        return 2 + length;
    }

    public static int Binary(int length)
    {
        if (length > ushort.MaxValue)
            throw new ArgumentException($"Binary data of {length} bytes does not fit MQTT's 65,535.", nameof(length));
        return 2 + length;
    }
}
