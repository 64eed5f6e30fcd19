using Kirisame.Protocol.Primitives;

namespace Kirisame.Interop.Tests;

/// Pieces of hand-made packets, for the tests that write MQTT bytes themselves.
internal static class WireBytes
{
    /// Appends <paramref name="value"/> as a variable byte integer (section 1.5.5), with the codec's own writer.
    public static void AddVariableByteInteger(List<byte> buffer, int value)
    {
        Span<byte> bytes = stackalloc byte[VariableByteInteger.MaxLength];
        buffer.AddRange(bytes[..VariableByteInteger.Write(bytes, value)]);
    }

    /// Appends <paramref name="value"/> as a UTF-8 string field: a two-byte length, then the bytes (section 1.5.4).
    public static void AddString(List<byte> buffer, string value)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(value);
        buffer.Add((byte)(bytes.Length >> 8));
        buffer.Add((byte)bytes.Length);
        buffer.AddRange(bytes);
    }

    /// A whole packet: <paramref name="first"/> (type and flags), the Remaining Length, then <paramref name="body"/>.
    public static byte[] Packet(byte first, List<byte> body)
    {
        var packet = new List<byte>(body.Count + 5) { first };
        AddVariableByteInteger(packet, body.Count);
        packet.AddRange(body);
        return [.. packet];
    }
}
