using System.Buffers;

namespace Kirisame.Protocol.Primitives;

/// Growing a buffer rented from the shared pool, for the writers that fill one (a socket's send buffer, a cluster
/// link's chunk).
public static class PooledBytes
{
    /// A pooled array at least twice as large as <paramref name="array"/> and with room for <paramref name="needed"/>
    /// more bytes after the first <paramref name="written"/>, which are copied; <paramref name="array"/> goes back.
    public static byte[] Grow(byte[] array, int written, int needed)
    {
        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(array.Length * 2, written + needed));
        array.AsSpan(0, written).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(array);
        return larger;
    }
}
