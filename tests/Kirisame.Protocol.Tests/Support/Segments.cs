using System.Buffers;

namespace Kirisame.Protocol.Tests.Support;

/// Builds multi-segment sequences, the way a pipe hands over data that arrived in several reads.
public static class Segments
{
    public static ReadOnlySequence<byte> Of(params byte[][] parts)
    {
        if (parts.Length == 0)
            return ReadOnlySequence<byte>.Empty;
        var first = new Segment(parts[0], 0);
        var last = first;
        for (var i = 1; i < parts.Length; i++)
            last = last.Append(parts[i]);
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// Two segments split at <paramref name="offset"/>; either may be empty.
    public static ReadOnlySequence<byte> SplitAt(byte[] bytes, int offset)
        => Of(bytes[..offset], bytes[offset..]);

    /// One segment per byte.
    public static ReadOnlySequence<byte> OneBytePerSegment(byte[] bytes)
        => bytes.Length == 0 ? ReadOnlySequence<byte>.Empty : Of(bytes.Select(b => new[] { b }).ToArray());

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
