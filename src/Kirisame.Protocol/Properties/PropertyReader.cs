using System.Buffers.Binary;
using Kirisame.Protocol.Primitives;

namespace Kirisame.Protocol.Properties;

/// One property as read: its identifier, and its value as an integer or as a slice of the block.
public readonly ref struct Property
{
    public PropertyId Id { get; init; }

    /// Byte, two-byte, four-byte and variable byte integer values.
    public uint Integer { get; init; }

    /// String or binary value; for a User Property, its name.
    public ReadOnlySpan<byte> Data { get; init; }

    /// For a User Property, its value.
    public ReadOnlySpan<byte> PairValue { get; init; }

    /// Where the whole entry (identifier included) lies in the block, and its length.
    public int EntryOffset { get; init; }

    public int EntryLength { get; init; }

    /// Where <see cref="Data"/> lies in the block.
    public int DataOffset { get; init; }

    public string GetString() => System.Text.Encoding.UTF8.GetString(Data);

    public string GetPairValue() => System.Text.Encoding.UTF8.GetString(PairValue);
}

/// Walks a property block (the bytes after the Property Length) one property at a time, checking each
/// identifier is known and each value is well-formed for its type. It does not check where a property
/// may appear or whether it repeats; <see cref="PropertyCodec"/> does.
public ref struct PropertyReader(ReadOnlySpan<byte> block)
{
    private SpanReader _reader = new(block);

    /// Reads the next property. At the end of the block returns None with a property whose Id is 0.
    public DecodeError TryRead(out Property property)
    {
        property = default;
        if (_reader.Remaining == 0)
            return DecodeError.None;
        var start = _reader.Position;
        var error = _reader.ReadVariableByteInteger(out var rawId);
        if (error != DecodeError.None)
            return DecodeError.MalformedProperties;
        if (rawId > byte.MaxValue || !PropertyDefinitions.IsKnown((byte)rawId))
            return DecodeError.UnknownProperty;
        var id = (PropertyId)rawId;
        uint integer = 0;
        int dataOffset = 0, dataLength = 0, pairOffset = 0, pairLength = 0;
        switch (PropertyDefinitions.GetType(id))
        {
            case PropertyType.Byte:
                error = _reader.ReadByte(out var b);
                integer = b;
                break;
            case PropertyType.TwoByteInteger:
                error = _reader.ReadUInt16(out var u16);
                integer = u16;
                break;
            case PropertyType.FourByteInteger:
                error = _reader.ReadUInt32(out integer);
                break;
            case PropertyType.VariableByteInteger:
                error = _reader.ReadVariableByteInteger(out var vbi);
                integer = (uint)vbi;
                break;
            case PropertyType.Utf8String:
                error = _reader.ReadString(out dataOffset, out dataLength);
                break;
            case PropertyType.BinaryData:
                error = _reader.ReadBinary(out dataOffset, out dataLength);
                break;
            case PropertyType.Utf8StringPair:
                error = _reader.ReadString(out dataOffset, out dataLength);
                if (error == DecodeError.None)
                    error = _reader.ReadString(out pairOffset, out pairLength);
                break;
        }

        if (error != DecodeError.None)
            return error == DecodeError.Truncated ? DecodeError.MalformedProperties : error;
        var span = _reader.Span;
        property = new Property
        {
            Id = id,
            Integer = integer,
            Data = span.Slice(dataOffset, dataLength),
            PairValue = span.Slice(pairOffset, pairLength),
            EntryOffset = start,
            EntryLength = _reader.Position - start,
            DataOffset = dataOffset,
        };
        return DecodeError.None;
    }

    internal static ushort ReadUInt16(ReadOnlySpan<byte> span) => BinaryPrimitives.ReadUInt16BigEndian(span);
}
