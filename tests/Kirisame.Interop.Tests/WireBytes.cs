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
}
