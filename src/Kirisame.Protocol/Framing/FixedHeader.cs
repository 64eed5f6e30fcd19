namespace Kirisame.Protocol.Framing;

/// The fixed header (section 2.1): type, flags and Remaining Length.
public readonly record struct FixedHeader(PacketType Type, byte Flags, int RemainingLength, int HeaderLength)
{
    public int TotalLength => HeaderLength + RemainingLength;
}

public enum FrameStatus : byte
{
    /// A whole packet is available.
    Complete,

    /// The buffer holds a proper prefix of a packet; nothing was consumed.
    NeedMoreData,

    /// The bytes cannot start a valid packet; see the error. The connection should be closed.
    Invalid,
}

/// One framed packet: its fixed header and a contiguous view of its body (the Remaining Length bytes).
public readonly struct RawPacket(PacketType type, byte flags, ReadOnlyMemory<byte> body, int totalLength)
{
    public PacketType Type { get; } = type;

    public byte Flags { get; } = flags;

    public ReadOnlyMemory<byte> Body { get; } = body;

    /// Bytes on the wire, fixed header included.
    public int TotalLength { get; } = totalLength;
}
