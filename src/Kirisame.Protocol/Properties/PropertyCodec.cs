using Kirisame.Protocol.Primitives;
using Kirisame.Protocol.Packets;

namespace Kirisame.Protocol.Properties;

/// Reads and writes property blocks: validation (where a property may appear, repeats, values) and sizes.
public static class PropertyCodec
{
    /// Checks the rules that depend on where a property is and what came before it.
    private static DecodeError Validate(in Property p, PropertyTarget target, ref ulong seen)
    {
        if (!PropertyDefinitions.IsAllowed(p.Id, target))
            return DecodeError.PropertyNotAllowed;
        var bit = 1UL << (int)p.Id;
        // User Properties may repeat anywhere (section 2.2.2.2); Subscription Identifiers only in PUBLISH,
        // where one is sent per matching subscription [MQTT-3.3.4-4].
        var mayRepeat = p.Id == PropertyId.UserProperty || (p.Id == PropertyId.SubscriptionIdentifier && target == PropertyTarget.Publish);
        if (!mayRepeat && (seen & bit) != 0)
            return DecodeError.DuplicateProperty;
        seen |= bit;
        switch (p.Id)
        {
            case PropertyId.PayloadFormatIndicator:
            case PropertyId.RequestProblemInformation:
            case PropertyId.RequestResponseInformation:
            case PropertyId.MaximumQoS:
            case PropertyId.RetainAvailable:
            case PropertyId.WildcardSubscriptionAvailable:
            case PropertyId.SubscriptionIdentifierAvailable:
            case PropertyId.SharedSubscriptionAvailable:
                return p.Integer <= 1 ? DecodeError.None : DecodeError.InvalidPropertyValue;
            case PropertyId.ReceiveMaximum:
            case PropertyId.MaximumPacketSize:
                // Zero is a protocol error: sections 3.1.2.11.3 and 3.1.2.11.4.
                return p.Integer == 0 ? DecodeError.InvalidPropertyValue : DecodeError.None;
            case PropertyId.TopicAlias:
                return p.Integer == 0 ? DecodeError.TopicAliasZero : DecodeError.None; // [MQTT-3.3.2-8]
            case PropertyId.SubscriptionIdentifier:
                return p.Integer == 0 ? DecodeError.SubscriptionIdentifierZero : DecodeError.None;
            default:
                return DecodeError.None;
        }
    }

    /// Reads a property block into a materialised set; null when the block is empty.
    public static DecodeError Read(ReadOnlySpan<byte> block, PropertyTarget target, out MqttProperties? properties)
    {
        properties = null;
        var reader = new PropertyReader(block);
        ulong seen = 0;
        while (true)
        {
            var error = reader.TryRead(out var p);
            if (error != DecodeError.None)
                return error;
            if (p.Id == 0)
                return DecodeError.None;
            error = Validate(p, target, ref seen);
            if (error != DecodeError.None)
                return error;
            properties ??= new MqttProperties();
            Assign(properties, p);
        }
    }

    private static void Assign(MqttProperties m, in Property p)
    {
        switch (p.Id)
        {
            case PropertyId.PayloadFormatIndicator: m.PayloadFormatIndicator = (byte)p.Integer; break;
            case PropertyId.MessageExpiryInterval: m.MessageExpiryInterval = p.Integer; break;
            case PropertyId.ContentType: m.ContentType = p.GetString(); break;
            case PropertyId.ResponseTopic: m.ResponseTopic = p.GetString(); break;
            case PropertyId.CorrelationData: m.CorrelationData = p.Data.ToArray(); break;
            case PropertyId.SubscriptionIdentifier: (m.SubscriptionIdentifiers ??= []).Add(p.Integer); break;
            case PropertyId.SessionExpiryInterval: m.SessionExpiryInterval = p.Integer; break;
            case PropertyId.AssignedClientIdentifier: m.AssignedClientIdentifier = p.GetString(); break;
            case PropertyId.ServerKeepAlive: m.ServerKeepAlive = (ushort)p.Integer; break;
            case PropertyId.AuthenticationMethod: m.AuthenticationMethod = p.GetString(); break;
            case PropertyId.AuthenticationData: m.AuthenticationData = p.Data.ToArray(); break;
            case PropertyId.RequestProblemInformation: m.RequestProblemInformation = (byte)p.Integer; break;
            case PropertyId.WillDelayInterval: m.WillDelayInterval = p.Integer; break;
            case PropertyId.RequestResponseInformation: m.RequestResponseInformation = (byte)p.Integer; break;
            case PropertyId.ResponseInformation: m.ResponseInformation = p.GetString(); break;
            case PropertyId.ServerReference: m.ServerReference = p.GetString(); break;
            case PropertyId.ReasonString: m.ReasonString = p.GetString(); break;
            case PropertyId.ReceiveMaximum: m.ReceiveMaximum = (ushort)p.Integer; break;
            case PropertyId.TopicAliasMaximum: m.TopicAliasMaximum = (ushort)p.Integer; break;
            case PropertyId.TopicAlias: m.TopicAlias = (ushort)p.Integer; break;
            case PropertyId.MaximumQoS: m.MaximumQoS = (byte)p.Integer; break;
            case PropertyId.RetainAvailable: m.RetainAvailable = (byte)p.Integer; break;
            case PropertyId.UserProperty: m.AddUserProperty(p.GetString(), p.GetPairValue()); break;
            case PropertyId.MaximumPacketSize: m.MaximumPacketSize = p.Integer; break;
            case PropertyId.WildcardSubscriptionAvailable: m.WildcardSubscriptionAvailable = (byte)p.Integer; break;
            case PropertyId.SubscriptionIdentifierAvailable: m.SubscriptionIdentifierAvailable = (byte)p.Integer; break;
            case PropertyId.SharedSubscriptionAvailable: m.SharedSubscriptionAvailable = (byte)p.Integer; break;
        }
    }

    /// Reads a PUBLISH property block as slices of <paramref name="block"/>. Allocates only when User
    /// Properties or Subscription Identifiers are interleaved with other properties and must be joined.
    public static DecodeError ReadPublish(ReadOnlyMemory<byte> block, out PublishProperties properties)
    {
        properties = default;
        if (block.IsEmpty)
            return DecodeError.None;
        var span = block.Span;
        var reader = new PropertyReader(span);
        ulong seen = 0;
        byte? format = null;
        uint? expiry = null;
        ushort alias = 0;
        ReadOnlyMemory<byte>? responseTopic = null, correlation = null, contentType = null;
        Run user = default, subscriptionIds = default;
        while (true)
        {
            var error = reader.TryRead(out var p);
            if (error != DecodeError.None)
                return error;
            if (p.Id == 0)
                break;
            error = Validate(p, PropertyTarget.Publish, ref seen);
            if (error != DecodeError.None)
                return error;
            switch (p.Id)
            {
                case PropertyId.PayloadFormatIndicator: format = (byte)p.Integer; break;
                case PropertyId.MessageExpiryInterval: expiry = p.Integer; break;
                case PropertyId.TopicAlias: alias = (ushort)p.Integer; break;
                case PropertyId.ResponseTopic:
                    // A Response Topic is a Topic Name: no wildcards [MQTT-3.3.2-14].
                    if (p.Data.IsEmpty || p.Data.IndexOfAny((byte)'+', (byte)'#') >= 0)
                        return DecodeError.InvalidPropertyValue;
                    responseTopic = block.Slice(p.DataOffset, p.Data.Length);
                    break;
                case PropertyId.CorrelationData: correlation = block.Slice(p.DataOffset, p.Data.Length); break;
                case PropertyId.ContentType: contentType = block.Slice(p.DataOffset, p.Data.Length); break;
                case PropertyId.UserProperty: user.Add(p.EntryOffset, p.EntryLength); break;
                case PropertyId.SubscriptionIdentifier: subscriptionIds.Add(p.EntryOffset, p.EntryLength); break;
            }
        }

        properties = new PublishProperties
        {
            PayloadFormatIndicator = format,
            MessageExpiryInterval = expiry,
            TopicAlias = alias,
            ResponseTopic = responseTopic,
            CorrelationData = correlation,
            ContentType = contentType,
            UserProperties = user.Collect(block, PropertyId.UserProperty),
            SubscriptionIdentifiers = subscriptionIds.Collect(block, PropertyId.SubscriptionIdentifier),
        };
        return DecodeError.None;
    }

    /// The span covered by entries of one kind; <see cref="Contiguous"/> is false once another kind interrupts it.
    private struct Run
    {
        private int _start;
        private int _end;
        private bool _any;

        public bool Contiguous { get; private set; }

        public void Add(int offset, int length)
        {
            if (!_any)
            {
                _any = true;
                Contiguous = true;
                _start = offset;
            }
            else if (offset != _end)
            {
                Contiguous = false;
            }

            _end = offset + length;
        }

        public readonly ReadOnlyMemory<byte> Collect(ReadOnlyMemory<byte> block, PropertyId id)
        {
            if (!_any)
                return default;
            if (Contiguous)
                return block[_start.._end];
            // Interleaved: copy just the entries of this kind, in order.
            var buffer = new byte[_end - _start];
            var length = 0;
            var reader = new PropertyReader(block.Span[_start.._end]);
            while (reader.TryRead(out var p) == DecodeError.None && p.Id != 0)
            {
                if (p.Id == id)
                {
                    block.Span.Slice(_start + p.EntryOffset, p.EntryLength).CopyTo(buffer.AsSpan(length));
                    length += p.EntryLength;
                }
            }

            return buffer.AsMemory(0, length);
        }
    }

    /// Size of the property contents, without the Property Length in front.
    public static int GetSize(MqttProperties? m)
    {
        if (m is null)
            return 0;
        var size = 0;
        if (m.PayloadFormatIndicator is not null) size += 2;
        if (m.MessageExpiryInterval is not null) size += 5;
        if (m.ContentType is { } contentType) size += 1 + Sizes.String(contentType);
        if (m.ResponseTopic is { } responseTopic) size += 1 + Sizes.String(responseTopic);
        if (m.CorrelationData is { } correlation) size += 1 + Sizes.Binary(correlation.Length);
        if (m.SubscriptionIdentifiers is { } ids)
        {
            foreach (var id in ids)
                size += 1 + VariableByteInteger.GetSize(checked((int)id));
        }

        if (m.SessionExpiryInterval is not null) size += 5;
        if (m.AssignedClientIdentifier is { } assigned) size += 1 + Sizes.String(assigned);
        if (m.ServerKeepAlive is not null) size += 3;
        if (m.AuthenticationMethod is { } method) size += 1 + Sizes.String(method);
        if (m.AuthenticationData is { } authData) size += 1 + Sizes.Binary(authData.Length);
        if (m.RequestProblemInformation is not null) size += 2;
        if (m.WillDelayInterval is not null) size += 5;
        if (m.RequestResponseInformation is not null) size += 2;
        if (m.ResponseInformation is { } responseInformation) size += 1 + Sizes.String(responseInformation);
        if (m.ServerReference is { } serverReference) size += 1 + Sizes.String(serverReference);
        if (m.ReasonString is { } reasonString) size += 1 + Sizes.String(reasonString);
        if (m.ReceiveMaximum is not null) size += 3;
        if (m.TopicAliasMaximum is not null) size += 3;
        if (m.TopicAlias is not null) size += 3;
        if (m.MaximumQoS is not null) size += 2;
        if (m.RetainAvailable is not null) size += 2;
        if (m.UserProperties is { } user)
        {
            foreach (var (name, value) in user)
                size += 1 + Sizes.String(name) + Sizes.String(value);
        }

        if (m.MaximumPacketSize is not null) size += 5;
        if (m.WildcardSubscriptionAvailable is not null) size += 2;
        if (m.SubscriptionIdentifierAvailable is not null) size += 2;
        if (m.SharedSubscriptionAvailable is not null) size += 2;
        return size;
    }

    /// Property Length plus contents.
    public static int GetBlockSize(MqttProperties? m)
    {
        var size = GetSize(m);
        return VariableByteInteger.GetSize(size) + size;
    }

    internal static void WriteBlock(ref SpanWriter w, MqttProperties? m)
    {
        w.WriteVariableByteInteger(GetSize(m));
        if (m is null)
            return;
        if (m.PayloadFormatIndicator is { } pfi) { w.WriteByte(0x01); w.WriteByte(pfi); }
        if (m.MessageExpiryInterval is { } mei) { w.WriteByte(0x02); w.WriteUInt32(mei); }
        if (m.ContentType is { } ct) { w.WriteByte(0x03); w.WriteString(ct); }
        if (m.ResponseTopic is { } rt) { w.WriteByte(0x08); w.WriteString(rt); }
        if (m.CorrelationData is { } cd) { w.WriteByte(0x09); w.WriteBinary(cd); }
        if (m.SubscriptionIdentifiers is { } ids)
        {
            foreach (var id in ids)
            {
                w.WriteByte(0x0B);
                w.WriteVariableByteInteger((int)id);
            }
        }

        if (m.SessionExpiryInterval is { } sei) { w.WriteByte(0x11); w.WriteUInt32(sei); }
        if (m.AssignedClientIdentifier is { } aci) { w.WriteByte(0x12); w.WriteString(aci); }
        if (m.ServerKeepAlive is { } ska) { w.WriteByte(0x13); w.WriteUInt16(ska); }
        if (m.AuthenticationMethod is { } am) { w.WriteByte(0x15); w.WriteString(am); }
        if (m.AuthenticationData is { } ad) { w.WriteByte(0x16); w.WriteBinary(ad); }
        if (m.RequestProblemInformation is { } rpi) { w.WriteByte(0x17); w.WriteByte(rpi); }
        if (m.WillDelayInterval is { } wdi) { w.WriteByte(0x18); w.WriteUInt32(wdi); }
        if (m.RequestResponseInformation is { } rri) { w.WriteByte(0x19); w.WriteByte(rri); }
        if (m.ResponseInformation is { } ri) { w.WriteByte(0x1A); w.WriteString(ri); }
        if (m.ServerReference is { } sr) { w.WriteByte(0x1C); w.WriteString(sr); }
        if (m.ReasonString is { } rs) { w.WriteByte(0x1F); w.WriteString(rs); }
        if (m.ReceiveMaximum is { } rm) { w.WriteByte(0x21); w.WriteUInt16(rm); }
        if (m.TopicAliasMaximum is { } tam) { w.WriteByte(0x22); w.WriteUInt16(tam); }
        if (m.TopicAlias is { } ta) { w.WriteByte(0x23); w.WriteUInt16(ta); }
        if (m.MaximumQoS is { } mq) { w.WriteByte(0x24); w.WriteByte(mq); }
        if (m.RetainAvailable is { } ra) { w.WriteByte(0x25); w.WriteByte(ra); }
        if (m.UserProperties is { } user)
        {
            foreach (var (name, value) in user)
            {
                w.WriteByte(0x26);
                w.WriteString(name);
                w.WriteString(value);
            }
        }

        if (m.MaximumPacketSize is { } mps) { w.WriteByte(0x27); w.WriteUInt32(mps); }
        if (m.WildcardSubscriptionAvailable is { } wsa) { w.WriteByte(0x28); w.WriteByte(wsa); }
        if (m.SubscriptionIdentifierAvailable is { } sia) { w.WriteByte(0x29); w.WriteByte(sia); }
        if (m.SharedSubscriptionAvailable is { } ssa) { w.WriteByte(0x2A); w.WriteByte(ssa); }
    }

    public static int GetSize(in PublishProperties p)
    {
        var size = 0;
        if (p.PayloadFormatIndicator is not null) size += 2;
        if (p.MessageExpiryInterval is not null) size += 5;
        if (p.ContentType is { } ct) size += 1 + Sizes.Binary(ct.Length);
        if (p.ResponseTopic is { } rt) size += 1 + Sizes.Binary(rt.Length);
        if (p.CorrelationData is { } cd) size += 1 + Sizes.Binary(cd.Length);
        if (p.TopicAlias != 0) size += 3;
        return size + p.SubscriptionIdentifiers.Length + p.UserProperties.Length;
    }

    internal static void WriteBlock(ref SpanWriter w, in PublishProperties p, int size)
    {
        w.WriteVariableByteInteger(size);
        if (p.PayloadFormatIndicator is { } pfi) { w.WriteByte(0x01); w.WriteByte(pfi); }
        if (p.MessageExpiryInterval is { } mei) { w.WriteByte(0x02); w.WriteUInt32(mei); }
        if (p.ContentType is { } ct) { w.WriteByte(0x03); w.WriteBinary(ct.Span); }
        if (p.ResponseTopic is { } rt) { w.WriteByte(0x08); w.WriteBinary(rt.Span); }
        if (p.CorrelationData is { } cd) { w.WriteByte(0x09); w.WriteBinary(cd.Span); }
        w.WriteRaw(p.SubscriptionIdentifiers.Span);
        if (p.TopicAlias != 0) { w.WriteByte(0x23); w.WriteUInt16(p.TopicAlias); }
        w.WriteRaw(p.UserProperties.Span);
    }

    /// Encodes User Properties as PUBLISH entries (see <see cref="PublishProperties.UserProperties"/>).
    public static byte[] EncodeUserProperties(IReadOnlyList<UserProperty>? user)
    {
        if (user is null || user.Count == 0)
            return [];
        var size = 0;
        foreach (var (name, value) in user)
            size += 1 + Sizes.String(name) + Sizes.String(value);
        var buffer = new byte[size];
        var w = new SpanWriter(buffer);
        foreach (var (name, value) in user)
        {
            w.WriteByte(0x26);
            w.WriteString(name);
            w.WriteString(value);
        }

        return buffer;
    }

    /// Encodes Subscription Identifiers as PUBLISH entries.
    public static byte[] EncodeSubscriptionIdentifiers(IReadOnlyList<uint>? ids)
    {
        if (ids is null || ids.Count == 0)
            return [];
        var size = 0;
        foreach (var id in ids)
            size += 1 + VariableByteInteger.GetSize(checked((int)id));
        var buffer = new byte[size];
        WriteSubscriptionIdentifiers(buffer, ids);
        return buffer;
    }

    /// Writes Subscription Identifier entries into <paramref name="destination"/>; returns the bytes written.
    public static int WriteSubscriptionIdentifiers(Span<byte> destination, IReadOnlyList<uint> ids)
    {
        var w = new SpanWriter(destination);
        for (var i = 0; i < ids.Count; i++)
        {
            w.WriteByte(0x0B);
            w.WriteVariableByteInteger(checked((int)ids[i]));
        }

        return w.Position;
    }
}
