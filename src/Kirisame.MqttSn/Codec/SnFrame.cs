using System.Buffers.Binary;

namespace Kirisame.MqttSn.Codec;

/// The message header (MQTT-SN 1.2 §5.2.1): a Length of one byte (2..255), or 0x01 followed by two bytes
/// (256..65535) — the length counts the whole message, header included — then the MsgType byte. One datagram is
/// one message: a length that does not match the datagram is malformed, never "the rest comes later".
internal static class SnFrame
{
    /// Above this a message needs the three-byte length form.
    public const int MaxShortLength = 255;

    public const int MaxLength = ushort.MaxValue;

    public static SnDecodeError TryRead(ReadOnlySpan<byte> datagram, out SnMessageType type, out ReadOnlySpan<byte> body)
    {
        type = default;
        body = default;
        if (datagram.Length < 2)
            return SnDecodeError.TooShort;
        int length, header;
        if (datagram[0] == 0x01)
        {
            if (datagram.Length < 4)
                return SnDecodeError.TooShort;
            length = BinaryPrimitives.ReadUInt16BigEndian(datagram[1..]);
            header = 4;
            // The long form for a length that fits the short one is not forbidden; a length below its own header is.
            if (length < header)
                return SnDecodeError.BadLength;
        }
        else
        {
            length = datagram[0];
            header = 2;
            if (length < header)
                return SnDecodeError.BadLength; // 0x00 is not a length
        }

        if (length != datagram.Length)
            return SnDecodeError.LengthMismatch;
        type = (SnMessageType)datagram[header - 1];
        body = datagram[header..];
        return SnDecodeError.None;
    }

    /// Bytes the header of a message read by <see cref="TryRead"/> takes.
    public static int HeaderLengthOf(ReadOnlySpan<byte> message) => message[0] == 0x01 ? 4 : 2;

    /// Bytes the header takes for a body of <paramref name="bodyLength"/> bytes.
    public static int HeaderLength(int bodyLength) => bodyLength + 2 <= MaxShortLength ? 2 : 4;

    /// Writes the header for a body of <paramref name="bodyLength"/> bytes; returns the header's length.
    public static int WriteHeader(Span<byte> destination, SnMessageType type, int bodyLength)
    {
        if (bodyLength + 2 <= MaxShortLength)
        {
            destination[0] = (byte)(bodyLength + 2);
            destination[1] = (byte)type;
            return 2;
        }

        if (bodyLength + 4 > MaxLength)
            throw new ArgumentOutOfRangeException(nameof(bodyLength), "An MQTT-SN message is at most 65,535 bytes.");
        destination[0] = 0x01;
        BinaryPrimitives.WriteUInt16BigEndian(destination[1..], (ushort)(bodyLength + 4));
        destination[3] = (byte)type;
        return 4;
    }
}

/// Why a datagram was not a message (counted as malformed and dropped).
internal enum SnDecodeError
{
    None,
    TooShort,
    BadLength,
    LengthMismatch,

    /// The header was good; the body is not what its type requires.
    BadBody,
}
