using System.Buffers;

namespace Kirisame.Transport.Sockets;

/// The received-and-not-consumed bytes of a connection, for the socket readers: one pooled array that goes
/// back to the pool when empty (so an idle connection holds none), [start, end) holding the bytes. A
/// connection starts with a small array (a CONNECT, a PINGREQ); a receive that fills it doubles the next
/// one, up to <see cref="LargestBuffer"/>; a packet larger than the array grows it as far as it needs.
internal struct ReceiveBuffer
{
    private const int SmallestBuffer = 1024;
    private const int LargestBuffer = 64 * 1024;

    private byte[]? _array;
    private int _start;
    private int _end;
    private int _size;

    /// The consumer looked at everything here (AdvanceTo's examined): a read must bring more first.
    public bool ExaminedEverything { get; private set; }

    public readonly bool HasUnexamined => _end > _start && !ExaminedEverything;

    /// Bytes held: received and not consumed.
    public readonly int Length => _end - _start;

    public readonly ReadOnlySequence<byte> Bytes =>
        _array is null || _end == _start ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(_array, _start, _end - _start);

    /// Room for the next receive (never empty).
    public Span<byte> FreeSpace()
    {
        if (_size == 0)
            _size = SmallestBuffer;
        if (_array is null)
        {
            _array = ArrayPool<byte>.Shared.Rent(_size);
            _start = _end = 0;
        }
        else if (_start == _end && _array.Length < _size)
        {
            // Everything consumed, and receives have been filling the array: continue in a larger one.
            ArrayPool<byte>.Shared.Return(_array);
            _array = ArrayPool<byte>.Shared.Rent(_size);
            _start = _end = 0;
        }
        else if (_end == _array.Length)
        {
            if (_start > 0)
            {
                // Keep the partial packet, at the front.
                _array.AsSpan(_start, _end - _start).CopyTo(_array);
                _end -= _start;
                _start = 0;
            }
            else
            {
                var larger = ArrayPool<byte>.Shared.Rent(_array.Length * 2);
                _array.AsSpan(0, _end).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_array);
                _array = larger;
            }
        }

        return _array.AsSpan(_end);
    }

    /// <paramref name="count"/> bytes were received into <see cref="FreeSpace"/>.
    public void Received(int count)
    {
        if (_end + count == _array!.Length && _size < LargestBuffer)
            _size *= 2; // more was probably waiting: read more at a time
        _end += count;
        ExaminedEverything = false;
    }

    public void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        if (_array is null || !ReferenceEquals(consumed.GetObject(), _array))
        {
            // The empty sequence: nothing was there to consume, so it was all examined.
            ExaminedEverything = true;
            return;
        }

        _start = consumed.GetInteger();
        var examinedTo = ReferenceEquals(examined.GetObject(), _array) ? examined.GetInteger() : _start;
        ExaminedEverything = examinedTo >= _end;
        if (_start == _end)
            _start = _end = 0;
    }

    /// Returns the array to the pool if nothing is in it.
    public void ReleaseIfEmpty()
    {
        if (_array is not null && _start == _end)
            Release();
    }

    public void Release()
    {
        if (_array is null)
            return;
        ArrayPool<byte>.Shared.Return(_array);
        _array = null;
        _start = _end = 0;
    }
}
