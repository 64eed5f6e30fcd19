using System.Buffers;
using Kirisame.Protocol.Primitives;

namespace Kirisame.Transport.Sockets;

/// The bytes a socket writer has been given and not yet sent: one pooled array, [0, Written) filled. The
/// array goes back to the pool after each complete send (an idle connection holds none); the next batch
/// starts in an array the size of the last one, so a busy connection does not grow it anew every time.
internal struct SendBuffer
{
    private const int SmallestBuffer = 256;
    private const int LargestFirstBuffer = 64 * 1024;

    private int _lastBatch;

    public byte[]? Array { get; private set; }

    public int Written { get; private set; }

    public void Advance(int bytes)
    {
        if ((uint)bytes > (uint)(Array?.Length ?? 0) - (uint)Written)
            throw new ArgumentOutOfRangeException(nameof(bytes));
        Written += bytes;
    }

    public Span<byte> GetSpan(int sizeHint)
    {
        Ensure(sizeHint);
        return Array.AsSpan(Written);
    }

    public Memory<byte> GetMemory(int sizeHint)
    {
        Ensure(sizeHint);
        return Array.AsMemory(Written);
    }

    private void Ensure(int sizeHint)
    {
        var needed = Math.Max(sizeHint, 1);
        if (Array is null)
        {
            Array = ArrayPool<byte>.Shared.Rent(Math.Max(needed, Math.Clamp(_lastBatch, SmallestBuffer, LargestFirstBuffer)));
            return;
        }

        if (Array.Length - Written >= needed)
            return;
        // A batch larger than the array: grow (the broker's outbound queue bounds how large a batch gets).
        Array = PooledBytes.Grow(Array, Written, needed);
    }

    /// After a complete send (or a failed one): empty, the array back in the pool.
    public void Release()
    {
        _lastBatch = Written;
        Written = 0;
        if (Array is not null)
        {
            ArrayPool<byte>.Shared.Return(Array);
            Array = null;
        }
    }
}
