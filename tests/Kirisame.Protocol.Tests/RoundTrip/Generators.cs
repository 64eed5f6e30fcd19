using System.Text;
using CsCheck;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;

namespace Kirisame.Protocol.Tests.RoundTrip;

/// Generators of packets each protocol version can carry: no properties before 5.0, no password without a
/// user name before 5.0, no session present in 3.1, and only the reason codes each 5.0 packet allows.
public static class Generators
{
    // Multi-byte UTF-8 included; no U+0000 [MQTT-1.5.4-2], no surrogates, no '/', '+' or '#'.
    private static readonly Gen<char> s_char = Gen.OneOf('a', 'b', 'z', 'A', '0', '9', '-', '_', ' ', '$', 'é', 'ß', '日', '€');

    public static readonly Gen<string> Text = s_char.Array[0, 6].Select(cs => new string(cs));

    public static readonly Gen<string> Level = s_char.Array[1, 5].Select(cs => new string(cs));

    public static readonly Gen<byte[]> Binary = Gen.Byte.Array[0, 12];

    public static readonly Gen<string> TopicName = Gen.OneOf(Level, Gen.Const("")).Array[1, 4]
        .Select(levels => string.Join('/', levels)).Where(t => t.Length > 0);

    public static readonly Gen<string> TopicFilter =
        Gen.Select(
            Gen.Frequency((4, Level), (2, Gen.Const("+")), (1, Gen.Const(""))).Array[1, 4],
            Gen.Bool,
            Level.Null(0.8), // sometimes a shared subscription
            (levels, multiLevel, share) =>
            {
                var filter = string.Join('/', levels);
                if (multiLevel)
                    filter = filter.Length == 0 ? "#" : filter + "/#";
                if (filter.Length == 0)
                    filter = "+";
                return share is null ? filter : $"$share/{share}/{filter}";
            });

    private static readonly Gen<ushort> s_packetId = Gen.UShort[1, ushort.MaxValue];

    private static readonly Gen<byte> s_flag = Gen.Byte[0, 1];

    private static readonly Gen<uint> s_subscriptionId = Gen.UInt[1, 268_435_455];

    /// Properties allowed in <paramref name="target"/> (section 2.2.2.2), each present or not.
    public static Gen<MqttProperties?> Properties(PropertyTarget target)
    {
        var setters = new List<Gen<Action<MqttProperties>?>>();

        void Opt<T>(PropertyId id, Gen<T> value, Action<MqttProperties, T> set)
        {
            if (PropertyDefinitions.IsAllowed(id, target))
            {
                setters.Add(Gen.Frequency(
                    (1, Gen.Const<Action<MqttProperties>?>(default(Action<MqttProperties>))),
                    (1, value.Select(v => (Action<MqttProperties>?)(p => set(p, v))))));
            }
        }

        Opt(PropertyId.PayloadFormatIndicator, s_flag, (p, v) => p.PayloadFormatIndicator = v);
        Opt(PropertyId.MessageExpiryInterval, Gen.UInt, (p, v) => p.MessageExpiryInterval = v);
        Opt(PropertyId.ContentType, Text, (p, v) => p.ContentType = v);
        Opt(PropertyId.ResponseTopic, TopicName, (p, v) => p.ResponseTopic = v);
        Opt(PropertyId.CorrelationData, Binary, (p, v) => p.CorrelationData = v);
        Opt(PropertyId.SubscriptionIdentifier,
            target == PropertyTarget.Publish ? s_subscriptionId.List[1, 3] : s_subscriptionId.List[1, 1],
            (p, v) => p.SubscriptionIdentifiers = v);
        Opt(PropertyId.SessionExpiryInterval, Gen.UInt, (p, v) => p.SessionExpiryInterval = v);
        Opt(PropertyId.AssignedClientIdentifier, Text, (p, v) => p.AssignedClientIdentifier = v);
        Opt(PropertyId.ServerKeepAlive, Gen.UShort, (p, v) => p.ServerKeepAlive = v);
        Opt(PropertyId.AuthenticationMethod, Text, (p, v) => p.AuthenticationMethod = v);
        Opt(PropertyId.AuthenticationData, Binary, (p, v) => p.AuthenticationData = v);
        Opt(PropertyId.RequestProblemInformation, s_flag, (p, v) => p.RequestProblemInformation = v);
        Opt(PropertyId.WillDelayInterval, Gen.UInt, (p, v) => p.WillDelayInterval = v);
        Opt(PropertyId.RequestResponseInformation, s_flag, (p, v) => p.RequestResponseInformation = v);
        Opt(PropertyId.ResponseInformation, Text, (p, v) => p.ResponseInformation = v);
        Opt(PropertyId.ServerReference, Text, (p, v) => p.ServerReference = v);
        Opt(PropertyId.ReasonString, Text, (p, v) => p.ReasonString = v);
        Opt(PropertyId.ReceiveMaximum, Gen.UShort[1, ushort.MaxValue], (p, v) => p.ReceiveMaximum = v);
        Opt(PropertyId.TopicAliasMaximum, Gen.UShort, (p, v) => p.TopicAliasMaximum = v);
        Opt(PropertyId.TopicAlias, Gen.UShort[1, ushort.MaxValue], (p, v) => p.TopicAlias = v);
        Opt(PropertyId.MaximumQoS, s_flag, (p, v) => p.MaximumQoS = v);
        Opt(PropertyId.RetainAvailable, s_flag, (p, v) => p.RetainAvailable = v);
        Opt(PropertyId.UserProperty, Gen.Select(Text, Text, (n, v) => new UserProperty(n, v)).List[1, 3], (p, v) => p.UserProperties = v);
        Opt(PropertyId.MaximumPacketSize, Gen.UInt[1, uint.MaxValue], (p, v) => p.MaximumPacketSize = v);
        Opt(PropertyId.WildcardSubscriptionAvailable, s_flag, (p, v) => p.WildcardSubscriptionAvailable = v);
        Opt(PropertyId.SubscriptionIdentifierAvailable, s_flag, (p, v) => p.SubscriptionIdentifierAvailable = v);
        Opt(PropertyId.SharedSubscriptionAvailable, s_flag, (p, v) => p.SharedSubscriptionAvailable = v);

        var all = Gen.Const(new List<Action<MqttProperties>>());
        foreach (var setter in setters)
            all = all.SelectMany(list => setter.Select(s => s is null ? list : [.. list, s]));
        var some = all.Select(list =>
        {
            if (list.Count == 0)
                return null;
            var p = new MqttProperties();
            foreach (var set in list)
                set(p);
            return (MqttProperties?)p;
        });
        // With a dozen optional properties "none at all" would almost never come up by chance.
        return Gen.Frequency((1, Gen.Const<MqttProperties?>(default(MqttProperties))), (3, some));
    }

    private static Gen<MqttProperties?> PropertiesIf(ProtocolVersion version, PropertyTarget target)
        => version == ProtocolVersion.V500 ? Properties(target) : Gen.Const<MqttProperties?>(default(MqttProperties));

    private static Gen<QualityOfService> QoS => Gen.OneOf(QualityOfService.AtMostOnce, QualityOfService.AtLeastOnce, QualityOfService.ExactlyOnce);

    public static Gen<MqttPacket> Connect(ProtocolVersion version)
    {
        var will = Gen.Select(TopicName, Text, QoS, Gen.Bool, PropertiesIf(version, PropertyTarget.Will),
            (topic, payload, qos, retain, properties) => new WillMessage
            {
                // UTF-8 text, so a Payload Format Indicator of 1 is true of it.
                Topic = topic, Payload = Encoding.UTF8.GetBytes(payload), QoS = qos, Retain = retain, Properties = properties,
            });
        return Gen.Select(Text, Gen.Bool, Gen.UShort, will.Null(0.5), Text.Null(0.5), Binary.Null(0.5), PropertiesIf(version, PropertyTarget.Connect),
            (clientId, clean, keepAlive, w, user, password, properties) => (MqttPacket)new ConnectPacket
            {
                ProtocolVersion = version, ClientId = clientId, CleanStart = clean, KeepAlive = keepAlive, Will = w,
                UserName = user,
                Password = version != ProtocolVersion.V500 && user is null ? null : password, // 3.1.1 [MQTT-3.1.2-22], before 5.0
                Properties = properties,
            });
    }

    public static Gen<MqttPacket> ConnAck(ProtocolVersion version)
    {
        if (version == ProtocolVersion.V500)
        {
            return Gen.Select(Gen.Bool, Gen.OneOf(V5Codes.ConnAck), Properties(PropertyTarget.ConnAck),
                (present, code, properties) => (MqttPacket)new ConnAckPacket { SessionPresent = present, ReasonCode = (ReasonCode)code, Properties = properties });
        }

        return Gen.Select(Gen.Bool, Gen.Byte[0, 5], (present, code) => (MqttPacket)new ConnAckPacket
        {
            SessionPresent = present && version == ProtocolVersion.V311, // 3.1 has no session present flag
            ReturnCode = (ConnectReturnCode)code,
            ReasonCode = V5Codes.FromReturnCode[code],
        });
    }

    public static Gen<MqttPacket> Publish(ProtocolVersion version)
        => Gen.Select(TopicName, Binary, QoS, Gen.Bool, Gen.Bool, s_packetId, PropertiesIf(version, PropertyTarget.Publish), Gen.Int[0, 4],
            (topic, payload, qos, retain, dup, id, properties, emptyTopicChance) =>
            {
                var atMostOnce = qos == QualityOfService.AtMostOnce;
                // An empty topic needs a Topic Alias to stand for it (5.0 section 3.3.2.3.4).
                var aliased = properties?.TopicAlias is not null && emptyTopicChance == 0;
                return (MqttPacket)new PublishMessagePacket(new PublishPacket
                {
                    Topic = Encoding.UTF8.GetBytes(aliased ? "" : topic),
                    Payload = payload,
                    QoS = qos,
                    Retain = retain,
                    Dup = dup && !atMostOnce,           // [MQTT-3.3.1-2]
                    PacketId = atMostOnce ? (ushort)0 : id,
                    Properties = PublishProperties.From(properties),
                });
            });

    public static Gen<MqttPacket> PublishAck(PacketType type, ProtocolVersion version)
    {
        if (version != ProtocolVersion.V500)
            return s_packetId.Select(id => (MqttPacket)new PublishAckPacket(type, id));
        var codes = type is PacketType.PubAck or PacketType.PubRec ? V5Codes.PubAck : V5Codes.PubRel;
        return Gen.Select(s_packetId, Gen.OneOf(codes), Properties(PropertyDefinitions.TargetOf(type)),
            (id, code, properties) => (MqttPacket)new PublishAckPacket(type, id, (ReasonCode)code, properties));
    }

    public static Gen<MqttPacket> Subscribe(ProtocolVersion version)
    {
        var subscription = version == ProtocolVersion.V500
            ? Gen.Select(TopicFilter, QoS, Gen.Bool, Gen.Bool, Gen.OneOf(RetainHandling.SendOnSubscribe, RetainHandling.SendOnNewSubscribe, RetainHandling.DoNotSend),
                (filter, qos, noLocal, rap, rh) => new TopicSubscription(filter, qos, noLocal && !filter.StartsWith("$share/", StringComparison.Ordinal), rap, rh))
            : Gen.Select(TopicFilter, QoS, (filter, qos) => new TopicSubscription(filter, qos));
        return Gen.Select(s_packetId, subscription.List[1, 4], PropertiesIf(version, PropertyTarget.Subscribe),
            (id, subscriptions, properties) => (MqttPacket)new SubscribePacket { PacketId = id, Subscriptions = subscriptions, Properties = properties });
    }

    public static Gen<MqttPacket> SubAck(ProtocolVersion version)
        => Gen.Select(s_packetId, Gen.OneOf(version == ProtocolVersion.V500 ? V5Codes.SubAck : [0x00, 0x01, 0x02, 0x80]).List[1, 4], PropertiesIf(version, PropertyTarget.SubAck),
            (id, codes, properties) => (MqttPacket)new SubAckPacket { PacketId = id, ReasonCodes = codes.ConvertAll(c => (ReasonCode)c), Properties = properties });

    public static Gen<MqttPacket> Unsubscribe(ProtocolVersion version)
        => Gen.Select(s_packetId, TopicFilter.List[1, 4], PropertiesIf(version, PropertyTarget.Unsubscribe),
            (id, filters, properties) => (MqttPacket)new UnsubscribePacket { PacketId = id, Filters = filters, Properties = properties });

    public static Gen<MqttPacket> UnsubAck(ProtocolVersion version)
    {
        if (version != ProtocolVersion.V500)
            return s_packetId.Select(id => (MqttPacket)new UnsubAckPacket { PacketId = id });
        return Gen.Select(s_packetId, Gen.OneOf(V5Codes.UnsubAck).List[1, 4], Properties(PropertyTarget.UnsubAck),
            (id, codes, properties) => (MqttPacket)new UnsubAckPacket { PacketId = id, ReasonCodes = codes.ConvertAll(c => (ReasonCode)c), Properties = properties });
    }

    public static Gen<MqttPacket> Disconnect(ProtocolVersion version)
    {
        if (version != ProtocolVersion.V500)
            return Gen.Const<MqttPacket>(new DisconnectPacket());
        return Gen.Select(Gen.OneOf(V5Codes.Disconnect), Properties(PropertyTarget.Disconnect),
            (code, properties) => (MqttPacket)new DisconnectPacket { ReasonCode = (ReasonCode)code, Properties = properties });
    }

    public static Gen<MqttPacket> Auth()
        => Gen.Select(Gen.OneOf(V5Codes.Auth), Properties(PropertyTarget.Auth),
            (code, properties) => (MqttPacket)new AuthPacket { ReasonCode = (ReasonCode)code, Properties = properties });

    public static Gen<MqttPacket> AnyPacket(ProtocolVersion version)
    {
        var gens = new List<Gen<MqttPacket>>
        {
            Connect(version), ConnAck(version), Publish(version), Subscribe(version), SubAck(version),
            Unsubscribe(version), UnsubAck(version), Disconnect(version),
            PublishAck(PacketType.PubAck, version), PublishAck(PacketType.PubRec, version),
            PublishAck(PacketType.PubRel, version), PublishAck(PacketType.PubComp, version),
            Gen.Const<MqttPacket>(PingReqPacket.Instance), Gen.Const<MqttPacket>(PingRespPacket.Instance),
        };
        if (version == ProtocolVersion.V500)
            gens.Add(Auth());
        return Gen.OneOf([.. gens]);
    }

    /// The reason codes each MQTT 5.0 packet may carry, written out from sections 3.2.2.2, 3.4.2.1, 3.6.2.1,
    /// 3.9.3, 3.11.3, 3.14.2.1 and 3.15.2.1 (not taken from the codec's own table).
    private static class V5Codes
    {
        public static readonly byte[] ConnAck = [0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F];
        public static readonly byte[] PubAck = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
        public static readonly byte[] PubRel = [0x00, 0x92];
        public static readonly byte[] SubAck = [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2];
        public static readonly byte[] UnsubAck = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
        public static readonly byte[] Disconnect = [0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2];
        public static readonly byte[] Auth = [0x00, 0x18, 0x19];

        // 3.1.1 section 3.2.2.3 return codes 0..5, as the decoder reports them in ReasonCode.
        public static readonly ReasonCode[] FromReturnCode =
        [
            ReasonCode.Success, ReasonCode.UnsupportedProtocolVersion, ReasonCode.ClientIdentifierNotValid,
            ReasonCode.ServerUnavailable, ReasonCode.BadUserNameOrPassword, ReasonCode.NotAuthorized,
        ];
    }
}
