using System.Collections.Concurrent;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Broker.Delivery;

/// An accepted application message, owned by the broker. The payload is copied once from the
/// publisher's buffer and then shared, read-only, by every subscriber and queue that holds it.
///
/// Messages from <see cref="Rent"/> are pooled: routing holds one reference, each outbound queue entry
/// one more, and the last <see cref="Release"/> returns the payload buffer and the object. Anything that
/// keeps a message beyond that (a session queue, the in-flight window, the retained store) calls
/// <see cref="Pin"/>, and a pinned message is left to the GC instead. So only QoS 0 traffic to connected
/// subscribers recycles — the path that must not allocate.
public sealed class BrokerMessage
{
    private const int MaxPooled = 4096;

    // A pooled message keeps its payload buffer (up to this size) for the next use. The shared ArrayPool is
    // not used: its per-core caches hold a few dozen arrays, fewer than the messages a busy broker has in
    // flight, so it would allocate in exactly the bursts that matter.
    private const int MaxKeptBuffer = 64 * 1024;

    // The payload buffers the pool keeps, in bytes, at most: 4 096 messages of 64 KB each would keep 256 MiB after
    // one burst of large messages, for good. Beyond this a released message keeps its object but not its buffer.
    // 16 MiB still keeps a buffer with every pooled message up to 4 KB payloads, which is what the no-allocation
    // promise is about.
    internal const long MaxPooledBufferBytes = 16L * 1024 * 1024;
    private static readonly ConcurrentQueue<BrokerMessage> s_pool = new();
    private static int s_pooled;
    private static long s_pooledBufferBytes;

    private byte[]? _buffer;
    private int _references;
    private volatile bool _pinned;

    // One encoded PUBLISH shared by the subscribers that receive the same bytes (see SharedEncoding). Its buffer
    // stays with a pooled message for the next use, like the payload's, so fan-out allocates nothing either.
    private byte[]? _encoded;
    private int _encodedState; // SharedEncoding.None / Building / Ready
    private int _encodedKey;
    private int _encodedLength;
    private int _encodedPacketIdOffset;

    public BrokerMessage(string topic, ReadOnlyMemory<byte> topicUtf8, ReadOnlyMemory<byte> payload, QualityOfService qos, bool retain,
        PublishProperties properties, string? senderClientId, long receivedAtTicks)
    {
        Topic = topic;
        Set(topic, topicUtf8, payload, qos, retain, properties, senderClientId, receivedAtTicks);
        _pinned = true; // made by hand: never pooled
        _references = 1;
    }

    private BrokerMessage()
    {
        Topic = "";
    }

    public string Topic { get; private set; }

    public ReadOnlyMemory<byte> TopicUtf8 { get; private set; }

    public ReadOnlyMemory<byte> Payload { get; private set; }

    public QualityOfService QoS { get; private set; }

    /// The RETAIN flag the publisher set.
    public bool Retain { get; private set; }

    /// Properties to forward (v5). Topic Alias and Subscription Identifiers are never stored here:
    /// they belong to one connection or one subscription.
    public PublishProperties Properties { get; private set; }

    public string? SenderClientId { get; private set; }

    /// TimeProvider timestamp at which the broker accepted the message (for Message Expiry).
    public long ReceivedAtTicks { get; private set; }

    public int Size => TopicUtf8.Length + Payload.Length;

    /// Set by routing when the message goes to more than one session: worth encoding once for all of them.
    internal bool ShareEncoding { get; set; }

    /// The shared encoding for <paramref name="key"/> when one is ready; otherwise false (none made yet, being
    /// made by another writer, or made for another variant: the caller encodes for itself).
    internal bool TryGetEncoded(int key, out ReadOnlySpan<byte> encoded, out int packetIdOffset)
    {
        if (Volatile.Read(ref _encodedState) == SharedEncoding.Ready && _encodedKey == key)
        {
            encoded = _encoded.AsSpan(0, _encodedLength);
            packetIdOffset = _encodedPacketIdOffset;
            return true;
        }

        encoded = default;
        packetIdOffset = 0;
        return false;
    }

    /// Claims the right to make the shared encoding: true for exactly one caller, who then calls
    /// <see cref="EncodedBuffer"/> and <see cref="PublishEncoded"/>.
    internal bool TryClaimEncoding() => Interlocked.CompareExchange(ref _encodedState, SharedEncoding.Building, SharedEncoding.None) == SharedEncoding.None;

    /// A buffer of at least <paramref name="size"/> bytes for the claimed encoding.
    internal byte[] EncodedBuffer(int size)
    {
        if (_encoded is null || _encoded.Length < size)
            _encoded = new byte[Math.Max(size, 128)];
        return _encoded;
    }

    /// Makes the claimed encoding visible to the other writers.
    internal void PublishEncoded(int key, int length, int packetIdOffset)
    {
        _encodedKey = key;
        _encodedLength = length;
        _encodedPacketIdOffset = packetIdOffset;
        Volatile.Write(ref _encodedState, SharedEncoding.Ready);
    }

    /// What the broker's store needs to find its stored copy of this message again, so that queues holding the same
    /// message share one copy; null while it has none. Read and set only by the store (on its writer thread, or when
    /// it makes the message from what it read), which treats it as a hint and checks it before relying on it.
    public object? StoreTag { get; set; }

    /// A pooled message holding a copy of <paramref name="payload"/>, with one reference (the caller's).
    public static BrokerMessage Rent(string topic, ReadOnlyMemory<byte> topicUtf8, ReadOnlySpan<byte> payload, QualityOfService qos, bool retain,
        in PublishProperties properties, string? senderClientId, long receivedAtTicks)
    {
        if (!s_pool.TryDequeue(out var message))
        {
            message = new BrokerMessage();
        }
        else
        {
            Interlocked.Decrement(ref s_pooled);
            if (message._buffer is { } kept)
                Interlocked.Add(ref s_pooledBufferBytes, -kept.Length);
        }

        var buffer = message._buffer;
        if (buffer is null || buffer.Length < payload.Length)
            message._buffer = buffer = new byte[Math.Max(payload.Length, 256)];
        payload.CopyTo(buffer);
        message.Set(topic, topicUtf8, buffer.AsMemory(0, payload.Length), qos, retain, properties, senderClientId, receivedAtTicks);
        message.StoreTag = null;
        message._pinned = false;
        message._references = 1;
        return message;
    }

    /// The references held now (for tests: a holder that forgets to release shows up here).
    internal int References => Volatile.Read(ref _references);

    public void AddReference() => Interlocked.Increment(ref _references);

    /// Keeps the message out of the pool for good (it is stored somewhere that does not count references).
    public void Pin() => _pinned = true;

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) != 0 || _pinned)
            return;
        Set("", default, default, default, false, default, null, 0);
        _encodedState = SharedEncoding.None;
        if (_encoded is { Length: > MaxKeptBuffer })
            _encoded = null;
        if (Interlocked.Increment(ref s_pooled) > MaxPooled)
        {
            Interlocked.Decrement(ref s_pooled);
            return;
        }

        if (_buffer is { } buffer
            && (buffer.Length > MaxKeptBuffer || Interlocked.Add(ref s_pooledBufferBytes, buffer.Length) > MaxPooledBufferBytes))
        {
            if (buffer.Length <= MaxKeptBuffer)
                Interlocked.Add(ref s_pooledBufferBytes, -buffer.Length);
            _buffer = null;
        }

        s_pool.Enqueue(this);
    }

    private void Set(string topic, ReadOnlyMemory<byte> topicUtf8, ReadOnlyMemory<byte> payload, QualityOfService qos, bool retain,
        in PublishProperties properties, string? senderClientId, long receivedAtTicks)
    {
        Topic = topic;
        TopicUtf8 = topicUtf8;
        ShareEncoding = false;
        Payload = payload;
        QoS = qos;
        Retain = retain;
        Properties = properties;
        SenderClientId = senderClientId;
        ReceivedAtTicks = receivedAtTicks;
    }

    /// Seconds left of the Message Expiry Interval, or null when the message never expires; 0 once expired.
    public uint? RemainingExpiry(TimeProvider time)
    {
        if (Properties.MessageExpiryInterval is not { } interval)
            return null;
        var elapsed = time.GetElapsedTime(ReceivedAtTicks).TotalSeconds;
        return elapsed >= interval ? 0 : interval - (uint)elapsed;
    }

    public bool IsExpired(TimeProvider time) => RemainingExpiry(time) == 0;
}
