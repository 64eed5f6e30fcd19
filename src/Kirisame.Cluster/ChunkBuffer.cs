using System.Buffers;
using Kirisame.Protocol.Primitives;

namespace Kirisame.Cluster;

/// A link's chunk of encoded messages, written into an array rented from the shared pool, and sent from that array as
/// it is (<see cref="Grains.NodeBatch.Messages"/> is a slice of it). An ArrayBufferWriter, as before, doubled its way up
/// to a 1 MiB chunk (256 B, 512 B, … 2 MiB: each step a new zeroed array and a copy, the last ones on the large object
/// heap) and was then copied once more into the batch: about 3.5 bytes allocated per byte sent, and gen 2 collections
/// for the large object heap — 90–110 MB/s allocated by the sending node at 250 k msg/s (dotnet-counters, docs/adr/0020).
/// Written under the link's lock while it is the open chunk; read only once it is taken.
internal sealed class ChunkBuffer(int capacity) : IBufferWriter<byte>
{
    private byte[] _array = ArrayPool<byte>.Shared.Rent(capacity);

    public int WrittenCount { get; private set; }

    public ReadOnlyMemory<byte> WrittenMemory => _array.AsMemory(0, WrittenCount);

    public void Advance(int count) => WrittenCount += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _array.AsMemory(WrittenCount);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _array.AsSpan(WrittenCount);
    }

    private void Ensure(int sizeHint)
    {
        if (_array.Length - WrittenCount >= Math.Max(sizeHint, 1))
            return;
        // A chunk starts at the size of the link's last one and grows in pooled steps (no zeroing, no large-object
        // allocation); it is closed once it holds ChunkBytes.
        _array = PooledBytes.Grow(_array, WrittenCount, Math.Max(sizeHint, 1));
    }

    /// The chunk was accepted by the other node: its array goes back to the pool. Only for a chunk whose call succeeded
    /// at the first try — one sent again may still be read by the earlier attempt's message, so it is left to the GC.
    public void Release()
    {
        ArrayPool<byte>.Shared.Return(_array);
        _array = [];
        WrittenCount = 0;
    }
}
