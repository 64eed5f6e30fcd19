using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Kirisame.Broker.Delivery;
using Kirisame.Broker.Routing;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;

namespace Kirisame.Storage.RocksDb;

/// The values stored under each key: a small binary format of our own, big-endian, each value starting with
/// its record version. A change of layout gets a new record version (and old ones stay readable) or a new
/// <see cref="DataFormatVersion"/>. StableFormatTests pins every layout with golden bytes.
internal static class StorageFormat
{
    /// Version of the data folder as a whole (stored under <see cref="StorageKeys.Format"/>). 2: queue entries carry
    /// their message's size (<see cref="QueueEntryVersion"/>). A folder of format 1 is read as well, and marked 2 when
    /// opened, so that a build that reads only format 1 refuses it with a clear message instead of misreading it.
    public const uint DataFormatVersion = 2;

    /// The oldest data format this build reads.
    public const uint OldestDataFormatVersion = 1;

    /// Version byte at the start of every value written by this code, except queue entries.
    public const byte RecordVersion = 1;

    /// Version byte of a queue entry. 2 adds the size of its message, so that start-up knows the bytes of a queue
    /// without reading its messages (they stay on disk until their client returns, docs/adr/0010); 1 is still read.
    public const byte QueueEntryVersion = 2;

    public static ReadOnlySpan<byte> Magic => "KIRISAME"u8;

    // Message flags.
    private const byte QoSMask = 0x03;
    private const byte RetainFlag = 0x04;
    private const byte SenderFlag = 0x08;

    // Queue entry flags.
    private const byte EntryRetainFlag = 0x01;
    private const byte EntryGroupFlag = 0x02;

    // Subscription option bits.
    private const byte NoLocalFlag = 0x04;
    private const byte RetainAsPublishedFlag = 0x08;
    private const int RetainHandlingShift = 4;

    // Session flags.
    private const byte WillFlag = 0x01;
    private const byte WillRetainFlag = 0x02;
    private const byte WillDelayFlag = 0x04;
    private const int WillQoSShift = 4;

    public static byte[] EncodeFormat()
    {
        var value = new byte[Magic.Length + 4];
        Magic.CopyTo(value);
        BinaryPrimitives.WriteUInt32BigEndian(value.AsSpan(Magic.Length), DataFormatVersion);
        return value;
    }

    /// The data format version recorded in a folder; throws when the value is not ours at all.
    public static uint DecodeFormat(ReadOnlySpan<byte> value)
    {
        if (value.Length != Magic.Length + 4 || !value[..Magic.Length].SequenceEqual(Magic))
            throw new StoreFormatException("the format record is not Kirisame's");
        return BinaryPrimitives.ReadUInt32BigEndian(value[Magic.Length..]);
    }

    /// An application message (a queue body or a retained message).
    public static byte[] EncodeMessage(BrokerMessage message, long receivedAtUnixMs)
    {
        var w = new ArrayBufferWriter<byte>(64 + message.Size);
        var flags = (byte)((byte)message.QoS & QoSMask);
        if (message.Retain)
            flags |= RetainFlag;
        if (message.SenderClientId is not null)
            flags |= SenderFlag;
        WriteByte(w, RecordVersion);
        WriteByte(w, flags);
        WriteInt64(w, receivedAtUnixMs);
        WriteBytes16(w, message.TopicUtf8.Span);
        if (message.SenderClientId is { } sender)
            WriteBytes16(w, Encoding.UTF8.GetBytes(sender));
        WriteProperties(w, message.Properties);
        WriteBytes32(w, message.Payload.Span);
        return w.WrittenSpan.ToArray();
    }

    public static BrokerMessage DecodeMessage(byte[] value, TimeProvider time) => DecodeMessage(value, WallClockAnchor.Now(time));

    /// The <see cref="BrokerMessage.Size"/> of a stored message (topic and payload), without decoding the rest: for a
    /// version 1 queue entry, which does not record it.
    public static int MessageSize(byte[] value)
    {
        var r = new ValueReader(value);
        r.ExpectVersion();
        var flags = r.ReadByte();
        r.ReadInt64();
        var topic = r.ReadBytes16().Length;
        if ((flags & SenderFlag) != 0)
            r.ReadBytes16();
        r.ReadBytes32(); // properties
        return topic + r.ReadBytes32().Length;
    }

    public static BrokerMessage DecodeMessage(byte[] value, in WallClockAnchor clock)
    {
        var r = new ValueReader(value);
        r.ExpectVersion();
        var flags = r.ReadByte();
        var qos = (QualityOfService)(flags & QoSMask);
        if ((int)qos > 2)
            throw new StoreFormatException("QoS out of range");
        var receivedAt = r.ReadInt64();
        var topicUtf8 = r.ReadBytes16();
        string? sender = (flags & SenderFlag) != 0 ? Encoding.UTF8.GetString(r.ReadBytes16().Span) : null;
        var properties = r.ReadProperties();
        var payload = r.ReadBytes32();
        r.ExpectEnd();
        return new BrokerMessage(Encoding.UTF8.GetString(topicUtf8.Span), topicUtf8, payload, qos, (flags & RetainFlag) != 0,
            properties, sender, clock.FromUnixMs(receivedAt));
    }

    /// One entry of a session queue; the message itself is the body <paramref name="bodyId"/>, of
    /// <paramref name="size"/> bytes (<see cref="BrokerMessage.Size"/>).
    public static byte[] EncodeQueueEntry(long bodyId, int size, QualityOfService qos, bool retain, uint[] subscriptionIds, IDeliveryGroup? group,
        ushort packetId, InflightState state)
    {
        var w = new ArrayBufferWriter<byte>(36);
        var flags = (byte)0;
        if (retain)
            flags |= EntryRetainFlag;
        if (group is not null)
            flags |= EntryGroupFlag;
        WriteByte(w, QueueEntryVersion);
        WriteInt64(w, bodyId);
        WriteByte(w, (byte)qos);
        WriteByte(w, flags);
        WriteUInt16(w, packetId);
        WriteByte(w, (byte)state);
        WriteUInt32(w, checked((uint)size));
        WriteUInt16(w, checked((ushort)subscriptionIds.Length));
        foreach (var id in subscriptionIds)
            WriteUInt32(w, id);
        if (group is not null)
        {
            WriteBytes16(w, Encoding.UTF8.GetBytes(group.Name));
            WriteBytes16(w, Encoding.UTF8.GetBytes(group.TopicFilter));
        }

        return w.WrittenSpan.ToArray();
    }

    /// What start-up needs of a queue entry, read without allocating: its body, its packet id (0: pending) and its
    /// message's size (−1 for a version 1 entry). The rest is checked when the entry is decoded in full.
    public static (long BodyId, ushort PacketId, int Size) DecodeQueueEntryHead(ReadOnlySpan<byte> value)
    {
        if (value.Length < 14 || value[0] is not (RecordVersion or QueueEntryVersion))
            throw new StoreFormatException(value.Length == 0 ? "queue entry is empty" : $"queue entry version {value[0]} is unknown or the entry is truncated");
        var bodyId = BinaryPrimitives.ReadInt64BigEndian(value[1..]);
        var packetId = BinaryPrimitives.ReadUInt16BigEndian(value[11..]);
        if (value[0] == RecordVersion)
            return (bodyId, packetId, -1);
        if (value.Length < 18)
            throw new StoreFormatException("record is truncated");
        var size = BinaryPrimitives.ReadUInt32BigEndian(value[14..]);
        return size <= int.MaxValue ? (bodyId, packetId, (int)size) : throw new StoreFormatException("queue entry size out of range");
    }

    /// A decoded queue entry. <see cref="Size"/> is −1 for a version 1 entry (its body knows it).
    public readonly record struct QueueEntry(long BodyId, QualityOfService QoS, bool Retain, uint[] SubscriptionIds,
        string? GroupName, string? GroupFilter, ushort PacketId, InflightState State, int Size = -1);

    public static QueueEntry DecodeQueueEntry(ReadOnlySpan<byte> value)
    {
        var r = new ValueReader(value.ToArray());
        var version = r.ReadByte();
        if (version is not (RecordVersion or QueueEntryVersion))
            throw new StoreFormatException($"queue entry version {version} is unknown (this build reads 1 and {QueueEntryVersion})");
        var bodyId = r.ReadInt64();
        var qos = (QualityOfService)r.ReadByte();
        if (qos is not (QualityOfService.AtLeastOnce or QualityOfService.ExactlyOnce))
            throw new StoreFormatException("queue entry QoS out of range");
        var flags = r.ReadByte();
        var packetId = r.ReadUInt16();
        var state = (InflightState)r.ReadByte();
        if (state is not (InflightState.AwaitingAck or InflightState.AwaitingComp))
            throw new StoreFormatException("in-flight state out of range");
        var size = -1;
        if (version == QueueEntryVersion)
        {
            var stored = r.ReadUInt32();
            size = stored <= int.MaxValue ? (int)stored : throw new StoreFormatException("queue entry size out of range");
        }

        var ids = new uint[r.ReadUInt16()];
        for (var i = 0; i < ids.Length; i++)
            ids[i] = r.ReadUInt32();
        string? groupName = null, groupFilter = null;
        if ((flags & EntryGroupFlag) != 0)
        {
            groupName = Encoding.UTF8.GetString(r.ReadBytes16().Span);
            groupFilter = Encoding.UTF8.GetString(r.ReadBytes16().Span);
        }

        r.ExpectEnd();
        return new QueueEntry(bodyId, qos, (flags & EntryRetainFlag) != 0, ids, groupName, groupFilter, packetId, state, size);
    }

    public static byte[] EncodeSubscription(in TopicSubscription options, uint subscriptionId)
    {
        var value = new byte[6];
        value[0] = RecordVersion;
        var bits = (byte)((byte)options.MaximumQoS & QoSMask);
        if (options.NoLocal)
            bits |= NoLocalFlag;
        if (options.RetainAsPublished)
            bits |= RetainAsPublishedFlag;
        bits |= (byte)((byte)options.RetainHandling << RetainHandlingShift);
        value[1] = bits;
        BinaryPrimitives.WriteUInt32BigEndian(value.AsSpan(2), subscriptionId);
        return value;
    }

    public static (TopicSubscription Options, uint SubscriptionId) DecodeSubscription(string filter, ReadOnlySpan<byte> value)
    {
        if (value.Length != 6 || value[0] != RecordVersion)
            throw new StoreFormatException("subscription record has an unknown layout");
        var bits = value[1];
        var qos = (QualityOfService)(bits & QoSMask);
        var handling = (RetainHandling)((bits >> RetainHandlingShift) & 0x03);
        if ((int)qos > 2 || (byte)handling > 2)
            throw new StoreFormatException("subscription options out of range");
        var options = new TopicSubscription(filter, qos, (bits & NoLocalFlag) != 0, (bits & RetainAsPublishedFlag) != 0, handling);
        return (options, BinaryPrimitives.ReadUInt32BigEndian(value[2..]));
    }

    /// Session meta: expiry, when the connection went away (Unix ms, 0 while connected), the pending will.
    public static byte[] EncodeSession(uint expiry, long disconnectedAtUnixMs, WillMessage? will, ProtocolVersion willVersion, long willAtUnixMs)
    {
        var w = new ArrayBufferWriter<byte>(32);
        WriteByte(w, RecordVersion);
        WriteUInt32(w, expiry);
        WriteInt64(w, disconnectedAtUnixMs);
        if (will is null)
        {
            WriteByte(w, 0);
            return w.WrittenSpan.ToArray();
        }

        var flags = (byte)(WillFlag | (((byte)will.QoS & QoSMask) << WillQoSShift));
        if (will.Retain)
            flags |= WillRetainFlag;
        var delay = will.Properties?.WillDelayInterval;
        if (delay is not null)
            flags |= WillDelayFlag;
        WriteByte(w, flags);
        WriteByte(w, (byte)willVersion);
        WriteInt64(w, willAtUnixMs);
        WriteBytes16(w, Encoding.UTF8.GetBytes(will.Topic));
        WriteBytes32(w, will.Payload);
        if (delay is { } d)
            WriteUInt32(w, d);
        WriteProperties(w, PublishProperties.From(will.Properties) with { TopicAlias = 0, SubscriptionIdentifiers = default });
        return w.WrittenSpan.ToArray();
    }

    public static StoredSessionMeta DecodeSession(ReadOnlySpan<byte> value)
    {
        var r = new ValueReader(value.ToArray());
        r.ExpectVersion();
        var expiry = r.ReadUInt32();
        var disconnectedAt = r.ReadInt64();
        var flags = r.ReadByte();
        if ((flags & WillFlag) == 0)
        {
            r.ExpectEnd();
            return new StoredSessionMeta(expiry, disconnectedAt, null, ProtocolVersion.V500, 0);
        }

        var qos = (QualityOfService)((flags >> WillQoSShift) & QoSMask);
        var version = (ProtocolVersion)r.ReadByte();
        if ((int)qos > 2 || !Enum.IsDefined(version))
            throw new StoreFormatException("will QoS or protocol version out of range");
        var willAt = r.ReadInt64();
        var topic = Encoding.UTF8.GetString(r.ReadBytes16().Span);
        var payload = r.ReadBytes32().ToArray();
        uint? delay = (flags & WillDelayFlag) != 0 ? r.ReadUInt32() : null;
        var properties = r.ReadProperties();
        r.ExpectEnd();
        MqttProperties? materialised = properties.IsEmpty && delay is null ? null : properties.ToMqttProperties();
        if (materialised is not null)
            materialised.WillDelayInterval = delay;
        var will = new WillMessage { Topic = topic, Payload = payload, QoS = qos, Retain = (flags & WillRetainFlag) != 0, Properties = materialised };
        return new StoredSessionMeta(expiry, disconnectedAt, will, version, willAt);
    }

    public readonly record struct StoredSessionMeta(uint Expiry, long DisconnectedAtUnixMs, WillMessage? Will, ProtocolVersion WillVersion, long WillAtUnixMs);

    public static byte[] EncodeQueueHead(long sequence)
    {
        var value = new byte[9];
        value[0] = RecordVersion;
        BinaryPrimitives.WriteInt64BigEndian(value.AsSpan(1), sequence);
        return value;
    }

    public static long DecodeQueueHead(ReadOnlySpan<byte> value) =>
        value.Length == 9 && value[0] == RecordVersion
            ? BinaryPrimitives.ReadInt64BigEndian(value[1..])
            : throw new StoreFormatException("queue head record has an unknown layout");

    public static readonly byte[] InboundQoS2Value = [RecordVersion];

    public static void CheckInboundQoS2(ReadOnlySpan<byte> value)
    {
        if (value.Length != 1 || value[0] != RecordVersion)
            throw new StoreFormatException("inbound QoS 2 record has an unknown layout");
    }

    /// PUBLISH properties as an MQTT 5 property block without its length (what <see cref="PropertyCodec.ReadPublish"/>
    /// reads), preceded by its length as u32. Topic Alias and Subscription Identifiers are never stored.
    private static void WriteProperties(ArrayBufferWriter<byte> w, in PublishProperties p)
    {
        var block = new ArrayBufferWriter<byte>(16);
        if (p.PayloadFormatIndicator is { } format)
        {
            WriteByte(block, (byte)PropertyId.PayloadFormatIndicator);
            WriteByte(block, format);
        }

        if (p.MessageExpiryInterval is { } expiry)
        {
            WriteByte(block, (byte)PropertyId.MessageExpiryInterval);
            WriteUInt32(block, expiry);
        }

        WriteBinaryProperty(block, PropertyId.ContentType, p.ContentType);
        WriteBinaryProperty(block, PropertyId.ResponseTopic, p.ResponseTopic);
        WriteBinaryProperty(block, PropertyId.CorrelationData, p.CorrelationData);
        block.Write(p.UserProperties.Span);
        WriteBytes32(w, block.WrittenSpan);
    }

    private static void WriteBinaryProperty(ArrayBufferWriter<byte> w, PropertyId id, ReadOnlyMemory<byte>? value)
    {
        if (value is not { } v)
            return;
        WriteByte(w, (byte)id);
        WriteBytes16(w, v.Span);
    }

    private static void WriteByte(ArrayBufferWriter<byte> w, byte value)
    {
        w.GetSpan(1)[0] = value;
        w.Advance(1);
    }

    private static void WriteUInt16(ArrayBufferWriter<byte> w, ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(w.GetSpan(2), value);
        w.Advance(2);
    }

    private static void WriteUInt32(ArrayBufferWriter<byte> w, uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(w.GetSpan(4), value);
        w.Advance(4);
    }

    private static void WriteInt64(ArrayBufferWriter<byte> w, long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(w.GetSpan(8), value);
        w.Advance(8);
    }

    private static void WriteBytes16(ArrayBufferWriter<byte> w, ReadOnlySpan<byte> value)
    {
        WriteUInt16(w, checked((ushort)value.Length));
        w.Write(value);
    }

    private static void WriteBytes32(ArrayBufferWriter<byte> w, ReadOnlySpan<byte> value)
    {
        WriteUInt32(w, (uint)value.Length);
        w.Write(value);
    }

    /// Reads a value, throwing <see cref="StoreFormatException"/> on anything short or out of place.
    private struct ValueReader(byte[] value)
    {
        private int _position;

        public void ExpectVersion()
        {
            var version = ReadByte();
            if (version != RecordVersion)
                throw new StoreFormatException($"record version {version} is unknown (this build reads {RecordVersion})");
        }

        public readonly void ExpectEnd()
        {
            if (_position != value.Length)
                throw new StoreFormatException("record has trailing bytes");
        }

        public byte ReadByte() => Take(1)[0];

        public ushort ReadUInt16() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));

        public uint ReadUInt32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));

        public long ReadInt64() => BinaryPrimitives.ReadInt64BigEndian(Take(8));

        public ReadOnlyMemory<byte> ReadBytes16() => Memory(ReadUInt16());

        public ReadOnlyMemory<byte> ReadBytes32()
        {
            var length = ReadUInt32();
            return length > int.MaxValue ? throw new StoreFormatException("record is truncated") : Memory((int)length);
        }

        public PublishProperties ReadProperties()
        {
            var block = ReadBytes32();
            var error = PropertyCodec.ReadPublish(block, out var properties);
            return error == DecodeError.None ? properties : throw new StoreFormatException($"stored properties do not decode ({error})");
        }

        private ReadOnlyMemory<byte> Memory(int length)
        {
            Take(length);
            return value.AsMemory(_position - length, length);
        }

        private ReadOnlySpan<byte> Take(int length)
        {
            if (value.Length - _position < length)
                throw new StoreFormatException("record is truncated");
            _position += length;
            return value.AsSpan(_position - length, length);
        }
    }
}

/// A stored value or key that this build cannot read: the data folder is corrupt or from elsewhere.
public sealed class StoreFormatException(string message) : Exception(message);
