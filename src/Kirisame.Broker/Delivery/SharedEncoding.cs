using Kirisame.Protocol;

namespace Kirisame.Broker.Delivery;

/// One encoding per variant (issue 12, item 7): subscribers that receive the same bytes share one encoded PUBLISH,
/// made by the first writer that needs it and copied by the others with their own packet identifier patched in.
/// "The same bytes" means the same wire format (3.1/3.1.1, or 5.0), QoS and RETAIN flag, no DUP, and nothing that
/// belongs to one subscriber: no Subscription Identifier, no Topic Alias (the client allows none), and no Message
/// Expiry Interval (its remaining seconds depend on when each writer sends). Anything else is encoded per
/// subscriber, as before. A message keeps one shared variant, the first one made: fan-out to one kind of
/// subscriber is the case that matters, and a second slot would cost every message.
internal static class SharedEncoding
{
    /// KIRISAME_NO_SHARED_ENCODING=1 turns sharing off, so that its effect can be measured with one build
    /// (bench/compare and the fan-out benchmark run both ways); not a setting for operators.
    public static readonly bool Enabled = Environment.GetEnvironmentVariable("KIRISAME_NO_SHARED_ENCODING") != "1";

    public const int None = 0;
    public const int Building = 1;
    public const int Ready = 2;

    /// The variant's key: wire format, QoS, RETAIN.
    public static int Key(ProtocolVersion version, QualityOfService qos, bool retain) =>
        (version == ProtocolVersion.V500 ? 1 : 0) | ((int)qos << 1) | (retain ? 8 : 0);

    /// Where the packet identifier sits in an encoded PUBLISH: after the fixed header (type byte and the
    /// Remaining Length, 1 to 4 bytes) and the topic name (2-byte length and its bytes), as section 3.3.2 of both versions lays it out.
    public static int PacketIdOffset(ReadOnlySpan<byte> encoded, int topicLength)
    {
        var i = 1;
        while ((encoded[i] & 0x80) != 0)
            i++;
        return i + 1 + 2 + topicLength;
    }
}
