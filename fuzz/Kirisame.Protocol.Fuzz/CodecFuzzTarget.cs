using System.Buffers;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;

namespace Kirisame.Protocol.Fuzz;

/// The fuzz target: bytes as a connection would receive them, framed with <see cref="MqttFrameReader"/> and
/// decoded as every protocol version. The codec promises never to throw on input (it returns a
/// <see cref="DecodeError"/>), so any exception escaping <see cref="Run"/> is a bug: either the codec's own, or
/// a <see cref="FuzzInvariantException"/> for a broken promise that does not throw by itself (framing that
/// depends on how the bytes were split, a round trip that loses a field or does not give the same bytes twice).
/// afl-fuzz drives it through Program; tests/Kirisame.Protocol.Tests replays fuzz/corpus and fuzz/crashes through it.
public static class CodecFuzzTarget
{
    private static readonly ProtocolVersion[] s_versions = [ProtocolVersion.V310, ProtocolVersion.V311, ProtocolVersion.V500];

    /// Segment lengths used, in turn, to cut the input when it is framed a second time; small and odd, so that
    /// cuts fall inside fixed headers, Remaining Lengths and bodies.
    private static readonly int[] s_segmentLengths = [1, 2, 3, 5, 8, 13];

    /// MQTT's largest packet: 1 type byte, 4 length bytes, 268,435,455 body bytes. Size limits are checked
    /// per packet below, at the packet's own length.
    private const int NoLimit = 1 + 4 + 268_435_455;

    public static void Run(ReadOnlySpan<byte> input)
    {
        var bytes = input.ToArray();
        var whole = FrameAll(new ReadOnlySequence<byte>(bytes), decode: true);
        var split = FrameAll(Split(bytes), decode: false);
        if (whole.Count != split.Count)
            throw new FuzzInvariantException($"Framing saw {whole.Count} outcomes whole but {split.Count} split into segments.");
        for (var i = 0; i < whole.Count; i++)
        {
            if (whole[i] != split[i])
                throw new FuzzInvariantException($"Framing outcome {i} differs when split into segments: {whole[i]} whole, {split[i]} split.");
        }
    }

    /// What framing said about one packet, or the status that ended the buffer. Compared between the whole
    /// buffer and the same bytes in segments.
    private readonly record struct FrameOutcome(FrameStatus Status, DecodeError Error, PacketType Type, byte Flags, int TotalLength, int BodyHash);

    private static List<FrameOutcome> FrameAll(ReadOnlySequence<byte> buffer, bool decode)
    {
        var outcomes = new List<FrameOutcome>();
        using var reader = new MqttFrameReader(NoLimit);
        while (true)
        {
            var status = reader.TryRead(buffer, out var raw, out var consumed, out var error);
            if (status != FrameStatus.Complete)
            {
                if (!consumed.Equals(buffer.Start))
                    throw new FuzzInvariantException($"Framing returned {status} but consumed bytes.");
                if ((status == FrameStatus.Invalid) == (error == DecodeError.None))
                    throw new FuzzInvariantException($"Framing returned {status} with error {error}.");
                outcomes.Add(new FrameOutcome(status, error, default, 0, 0, 0));
                return outcomes;
            }

            var consumedLength = buffer.Slice(buffer.Start, consumed).Length;
            if (error != DecodeError.None || consumedLength != raw.TotalLength || consumedLength <= raw.Body.Length)
                throw new FuzzInvariantException($"Framing consumed {consumedLength} bytes for a {raw.TotalLength}-byte packet with a {raw.Body.Length}-byte body (error {error}).");
            outcomes.Add(new FrameOutcome(status, error, raw.Type, raw.Flags, raw.TotalLength, Hash(raw.Body.Span)));
            CheckSizeLimit(buffer, raw);
            // The body may live in the reader's scratch buffer, valid until its next read: use it before that.
            if (decode)
            {
                foreach (var version in s_versions)
                    DecodeAndRoundTrip(raw, version);
            }

            buffer = buffer.Slice(consumed);
        }
    }

    /// A limit of exactly the packet's size admits it; one byte less refuses it, before its body is needed.
    private static void CheckSizeLimit(in ReadOnlySequence<byte> buffer, in RawPacket raw)
    {
        var exact = MqttFraming.TryReadHeader(buffer, raw.TotalLength, out var header, out _);
        var under = MqttFraming.TryReadHeader(buffer, raw.TotalLength - 1, out _, out var underError);
        if (exact != FrameStatus.Complete || header.TotalLength != raw.TotalLength
            || under != FrameStatus.Invalid || underError != DecodeError.PacketTooLarge)
            throw new FuzzInvariantException($"A {raw.TotalLength}-byte packet: limit {raw.TotalLength} gave {exact}, limit {raw.TotalLength - 1} gave {under} {underError}.");
    }

    private static void DecodeAndRoundTrip(in RawPacket raw, ProtocolVersion version)
    {
        var error = MqttDecoder.Decode(raw, version, out var packet);
        _ = DecodeErrors.ToReasonCode(error);
        if (raw.Type == PacketType.Connect)
            _ = MqttDecoder.PeekProtocolLevel(raw.Body.Span);
        if (raw.Type is PacketType.PubAck or PacketType.PubRec or PacketType.PubRel or PacketType.PubComp)
            CheckAckFastPath(raw, version, error, packet as PublishAckPacket);
        if (error != DecodeError.None)
            return;
        if (packet is null || packet.Type != raw.Type)
            throw new FuzzInvariantException($"{raw.Type} decoded as {version} without error but gave {packet?.Type.ToString() ?? "no packet"}.");

        // CONNECT carries its own version; everything else is written as the version it was read as.
        var encodeVersion = packet is ConnectPacket connect ? connect.ProtocolVersion : version;
        var first = MqttEncoder.Encode(packet, encodeVersion);
        if (first.Length != MqttEncoder.GetSize(packet, encodeVersion))
            throw new FuzzInvariantException($"{raw.Type} as {version}: GetSize disagrees with the {first.Length} bytes written.");
        var again = DecodeEncoded(first, encodeVersion, raw.Type, version);
        if (PacketDifference.Find(packet, again) is { } field)
            throw new FuzzInvariantException($"{raw.Type} as {version}: its {field} changed when encoded ({Convert.ToHexString(first)}) and decoded again.");
        var second = MqttEncoder.Encode(again, encodeVersion);
        if (!first.AsSpan().SequenceEqual(second))
            throw new FuzzInvariantException($"{raw.Type} as {version} is not stable: encoded {Convert.ToHexString(first)}, decoded and encoded again {Convert.ToHexString(second)}.");
    }

    private static MqttPacket DecodeEncoded(byte[] encoded, ProtocolVersion version, PacketType type, ProtocolVersion readAs)
    {
        using var reader = new MqttFrameReader(NoLimit);
        var status = reader.TryRead(new ReadOnlySequence<byte>(encoded), out var raw, out _, out var frameError);
        if (status != FrameStatus.Complete || raw.TotalLength != encoded.Length)
            throw new FuzzInvariantException($"{type} as {readAs}: its own encoding {Convert.ToHexString(encoded)} frames as {status} {frameError}.");
        var error = MqttDecoder.Decode(raw, version, out var packet);
        if (error != DecodeError.None || packet is null)
            throw new FuzzInvariantException($"{type} as {readAs}: its own encoding {Convert.ToHexString(encoded)} does not decode ({error}).");
        return packet;
    }

    /// The allocation-free PUBACK/PUBREC/PUBREL/PUBCOMP reader must accept exactly what the full decoder accepts,
    /// with the same packet identifier and reason code (the error it names may differ).
    private static void CheckAckFastPath(in RawPacket raw, ProtocolVersion version, DecodeError fullError, PublishAckPacket? full)
    {
        var fastError = MqttDecoder.DecodePublishAck(raw, version, out var packetId, out var reason);
        if ((fastError == DecodeError.None) != (fullError == DecodeError.None))
            throw new FuzzInvariantException($"{raw.Type} as {version}: the fast path says {fastError}, the full decoder {fullError}.");
        if (fastError == DecodeError.None && (full is null || full.PacketId != packetId || full.ReasonCode != reason))
            throw new FuzzInvariantException($"{raw.Type} as {version}: the fast path read id {packetId} reason {reason}, the full decoder id {full?.PacketId} reason {full?.ReasonCode}.");
    }

    private static ReadOnlySequence<byte> Split(byte[] bytes)
    {
        if (bytes.Length == 0)
            return ReadOnlySequence<byte>.Empty;
        Segment? first = null;
        Segment? last = null;
        for (int offset = 0, i = 0; offset < bytes.Length; i++)
        {
            var length = Math.Min(s_segmentLengths[i % s_segmentLengths.Length], bytes.Length - offset);
            var memory = bytes.AsMemory(offset, length);
            last = last is null ? first = new Segment(memory, 0) : last.Append(memory);
            offset += length;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private static int Hash(ReadOnlySpan<byte> body)
    {
        var hash = new HashCode();
        hash.AddBytes(body);
        return hash.ToHashCode();
    }

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

/// Thrown by <see cref="CodecFuzzTarget"/> when the codec breaks one of its promises without throwing itself.
public sealed class FuzzInvariantException(string message) : Exception(message);
