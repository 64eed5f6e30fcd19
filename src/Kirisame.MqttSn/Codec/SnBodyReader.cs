using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;

namespace Kirisame.MqttSn.Codec;

/// Reads a message body front to back; any read past the end marks it malformed instead of throwing, so a
/// parser reads every field and checks <see cref="Ok"/> once.
internal ref struct SnBodyReader(ReadOnlySpan<byte> body)
{
    private readonly ReadOnlySpan<byte> _body = body;
    private int _position;
    private bool _overrun;

    public readonly bool Ok => !_overrun;

    public readonly int Remaining => _body.Length - _position;

    public byte Byte()
    {
        if (Remaining < 1)
        {
            _overrun = true;
            return 0;
        }
        return _body[_position++];
    }

    public ushort UInt16()
    {
        if (Remaining < 2)
        {
            _overrun = true;
            _position = _body.Length;
            return 0;
        }
        var value = BinaryPrimitives.ReadUInt16BigEndian(_body[_position..]);
        _position += 2;
        return value;
    }

    public ReadOnlySpan<byte> Rest()
    {
        var rest = _body[_position..];
        _position = _body.Length;
        return rest;
    }

    /// The rest as UTF-8 text, or null when it is not valid UTF-8 (topic names and client ids are text).
    public string? RestText()
    {
        var rest = Rest();
        if (Utf8.IsValid(rest))
            return Encoding.UTF8.GetString(rest);
        _overrun = true;
        return null;
    }
}
