using System.Buffers.Binary;
using System.Text;

namespace Kirisame.Storage.RocksDb;

/// The first byte of every key. Persisted: values never change (pinned by StableFormatTests).
internal enum KeySpace : byte
{
    /// "\0format": the data folder's format version.
    System = 0x00,

    /// Everything of one session, contiguous: 0x01, client id length (u16 BE), client id (UTF-8), <see cref="SessionKeyKind"/>, suffix.
    Session = 0x01,

    /// 0x02, topic (UTF-8).
    Retained = 0x02,

    /// 0x03, body id (u64 BE). A message body shared by every queue entry that refers to it.
    Body = 0x03,
}

/// The byte after the client id in a <see cref="KeySpace.Session"/> key. Persisted.
internal enum SessionKeyKind : byte
{
    /// Expiry, disconnection time, pending will.
    Meta = 0x01,

    /// Suffix: the filter as the client sent it (UTF-8).
    Subscription = 0x02,

    /// The lowest queue sequence that may still be live; start-up seeks there instead of walking deleted entries.
    QueueHead = 0x03,

    /// Suffix: sequence (u64 BE), so a queue reads in order.
    QueueEntry = 0x04,

    /// Suffix: packet id (u16 BE) of an inbound QoS 2 message awaiting PUBREL.
    InboundQoS2 = 0x05,
}

/// Builds and parses keys. Big-endian numbers so that byte order is numeric order.
internal static class StorageKeys
{
    public static readonly byte[] Format = [(byte)KeySpace.System, .. "format"u8];

    public static byte[] SessionPrefix(string clientId)
    {
        var length = Encoding.UTF8.GetByteCount(clientId);
        if (length > ushort.MaxValue)
            throw new ArgumentException("client id too long", nameof(clientId));
        var key = new byte[3 + length];
        key[0] = (byte)KeySpace.Session;
        BinaryPrimitives.WriteUInt16BigEndian(key.AsSpan(1), (ushort)length);
        Encoding.UTF8.GetBytes(clientId, key.AsSpan(3));
        return key;
    }

    /// [start, end) covering every record of a session.
    public static (byte[] Start, byte[] End) SessionRange(string clientId)
    {
        var prefix = SessionPrefix(clientId);
        return ([.. prefix, 0x00], [.. prefix, 0xFF]);
    }

    public static byte[] SessionMeta(string clientId) => [.. SessionPrefix(clientId), (byte)SessionKeyKind.Meta];

    public static byte[] QueueHead(string clientId) => [.. SessionPrefix(clientId), (byte)SessionKeyKind.QueueHead];

    public static byte[] Subscription(string clientId, string filter) =>
        [.. SessionPrefix(clientId), (byte)SessionKeyKind.Subscription, .. Encoding.UTF8.GetBytes(filter)];

    public static byte[] QueueEntry(byte[] sessionPrefix, long sequence)
    {
        var key = new byte[sessionPrefix.Length + 9];
        sessionPrefix.CopyTo(key, 0);
        key[sessionPrefix.Length] = (byte)SessionKeyKind.QueueEntry;
        BinaryPrimitives.WriteInt64BigEndian(key.AsSpan(sessionPrefix.Length + 1), sequence);
        return key;
    }

    /// Just past the last queue entry of the session with <paramref name="sessionPrefix"/> (an iterator's upper bound).
    public static byte[] QueueEnd(byte[] sessionPrefix) => [.. sessionPrefix, (byte)SessionKeyKind.QueueEntry + 1];

    public static byte[] InboundQoS2(string clientId, ushort packetId)
    {
        var prefix = SessionPrefix(clientId);
        var key = new byte[prefix.Length + 3];
        prefix.CopyTo(key, 0);
        key[prefix.Length] = (byte)SessionKeyKind.InboundQoS2;
        BinaryPrimitives.WriteUInt16BigEndian(key.AsSpan(prefix.Length + 1), packetId);
        return key;
    }

    public static byte[] Retained(string topic) => [(byte)KeySpace.Retained, .. Encoding.UTF8.GetBytes(topic)];

    public static byte[] Body(long id)
    {
        var key = new byte[9];
        key[0] = (byte)KeySpace.Body;
        BinaryPrimitives.WriteInt64BigEndian(key.AsSpan(1), id);
        return key;
    }

    /// Splits a session key into client id, record kind and suffix; false when it is not one.
    public static bool TryParseSession(ReadOnlySpan<byte> key, out string clientId, out SessionKeyKind record, out ReadOnlySpan<byte> suffix)
    {
        clientId = "";
        record = default;
        suffix = default;
        if (key.Length < 4 || key[0] != (byte)KeySpace.Session)
            return false;
        int length = BinaryPrimitives.ReadUInt16BigEndian(key[1..]);
        if (key.Length < 3 + length + 1)
            return false;
        clientId = Encoding.UTF8.GetString(key.Slice(3, length));
        record = (SessionKeyKind)key[3 + length];
        suffix = key[(4 + length)..];
        return true;
    }

    public static string Describe(ReadOnlySpan<byte> key) => Convert.ToHexString(key[..Math.Min(key.Length, 64)]);
}
