using System.Buffers;
using Kirisame.Protocol.Primitives;

namespace Kirisame.Protocol.Framing;

public static class MqttFraming
{
    /// Reads the fixed header at the start of <paramref name="buffer"/> without consuming anything.
    /// A packet larger than <paramref name="maximumPacketSize"/> is refused here, before its body is
    /// buffered, so a hostile Remaining Length costs nothing.
    public static FrameStatus TryReadHeader(in ReadOnlySequence<byte> buffer, int maximumPacketSize, out FixedHeader header, out DecodeError error)
    {
        header = default;
        error = DecodeError.None;
        if (buffer.IsEmpty)
            return FrameStatus.NeedMoreData;
        var first = buffer.FirstSpan.Length > 0 ? buffer.FirstSpan[0] : FirstByteSlow(buffer);
        var type = (PacketType)(first >> 4);
        if (type == PacketType.Reserved)
        {
            error = DecodeError.ReservedPacketType; // [MQTT-2.1.3-1] type 0 is forbidden
            return FrameStatus.Invalid;
        }

        var lengthError = VariableByteInteger.TryRead(buffer, 1, out var remaining, out var lengthBytes);
        if (lengthError == DecodeError.Truncated)
            return FrameStatus.NeedMoreData;
        if (lengthError != DecodeError.None)
        {
            error = DecodeError.MalformedRemainingLength;
            return FrameStatus.Invalid;
        }

        header = new FixedHeader(type, (byte)(first & 0x0F), remaining, 1 + lengthBytes);
        if (header.TotalLength > maximumPacketSize)
        {
            error = DecodeError.PacketTooLarge;
            return FrameStatus.Invalid;
        }

        return FrameStatus.Complete;
    }

    private static byte FirstByteSlow(in ReadOnlySequence<byte> buffer)
    {
        Span<byte> one = stackalloc byte[1];
        buffer.Slice(0, 1).CopyTo(one);
        return one[0];
    }
}

/// Frames packets from a connection's input. Bodies are handed out in place when they lie in one
/// segment (the common case); a body that spans segments is linearised into a scratch buffer owned by
/// this reader, which grows to at most the maximum packet size. Up to <see cref="RetainedScratchLength"/> it is
/// kept for the next packet; a larger one goes back to the pool once its packet is done with.
public sealed class MqttFrameReader(int maximumPacketSize) : IDisposable
{
    /// The largest scratch buffer kept between packets. With a maximum packet size of megabytes, keeping the
    /// buffer one large packet grew would make every connection that ever sent one hold that much while idle.
    internal const int RetainedScratchLength = 64 * 1024;

    private byte[]? _scratch;

    public int MaximumPacketSize { get; set; } = maximumPacketSize;

    /// After <see cref="FrameStatus.NeedMoreData"/>: the whole length (fixed header included) of the packet that
    /// has begun to arrive, once its fixed header is there; 0 while even that is incomplete, and after any other
    /// status. Known before the rest is read, so a caller can decide whether to buffer it (ADR 0001: bodies are
    /// held whole) — e.g. reserve the memory first.
    public int PendingPacketLength { get; private set; }

    /// Reads one packet from the start of <paramref name="buffer"/>. On Complete, <paramref name="consumed"/>
    /// is the position after it and <paramref name="packet"/>'s body stays valid until the next call
    /// or until the buffer is released. On NeedMoreData nothing is consumed.
    public FrameStatus TryRead(in ReadOnlySequence<byte> buffer, out RawPacket packet, out SequencePosition consumed, out DecodeError error)
    {
        packet = default;
        consumed = buffer.Start;
        PendingPacketLength = 0;
        if (_scratch is { Length: > RetainedScratchLength })
            ReleaseScratch(); // the previous packet's body was valid until this call, no longer
        var status = MqttFraming.TryReadHeader(buffer, MaximumPacketSize, out var header, out error);
        if (status != FrameStatus.Complete)
            return status;
        if (buffer.Length < header.TotalLength)
        {
            PendingPacketLength = header.TotalLength;
            return FrameStatus.NeedMoreData;
        }
        var body = buffer.Slice(header.HeaderLength, header.RemainingLength);
        ReadOnlyMemory<byte> memory;
        if (body.IsSingleSegment)
        {
            memory = body.First;
        }
        else
        {
            if (_scratch is null || _scratch.Length < header.RemainingLength)
            {
                if (_scratch is not null)
                    ArrayPool<byte>.Shared.Return(_scratch);
                _scratch = ArrayPool<byte>.Shared.Rent(header.RemainingLength);
            }

            body.CopyTo(_scratch);
            memory = _scratch.AsMemory(0, header.RemainingLength);
        }

        packet = new RawPacket(header.Type, header.Flags, memory, header.TotalLength);
        consumed = body.End;
        return FrameStatus.Complete;
    }

    /// The scratch buffer's length now (tests).
    internal int ScratchLength => _scratch?.Length ?? 0;

    /// Returns the scratch buffer to the pool, for a connection that has gone idle.
    public void ReleaseScratch()
    {
        if (_scratch is not null)
        {
            ArrayPool<byte>.Shared.Return(_scratch);
            _scratch = null;
        }
    }

    public void Dispose() => ReleaseScratch();
}
