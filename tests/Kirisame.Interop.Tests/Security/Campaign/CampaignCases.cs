using System.Globalization;
using System.Text;
using Kirisame.Protocol.Tests.Vectors;

namespace Kirisame.Interop.Tests.Security.Campaign;

internal enum CampaignTransport { Tcp, Tls, Ws, Wss }

/// The client strings and binaries the broker reads, quotes or echoes; one or two of them per case are made
/// 16-bit-boundary long.
internal enum LongField
{
    ClientId, UserName, Password, WillTopic, WillPayload, WillContentType, WillResponseTopic, WillCorrelationData,
    WillUserProperty, AuthenticationMethod, AuthenticationData, ConnectUserProperty, PublishTopic, PublishContentType,
    PublishResponseTopic, PublishCorrelationData, PublishUserProperty, SubscribeFilter, SubscribeUserProperty,
    UnsubscribeFilter, UnsubscribeUserProperty, PubrelReasonString, DisconnectReasonString, DisconnectUserProperty,
    AuthReasonString, ScramUserName, ScramClientFinalData,
}

/// A SCRAM-SHA-256 exchange driven over the raw connection: after CONNECT (carrying client-first), the
/// server's AUTH 0x18 is answered with client-final, spoiled as the case says.
internal sealed record ScramPlan(ScramAuthenticationHandler Client, bool SpoilProof, int ReasonStringLength, int DataLength, byte? RandomPropertyId);

/// One hostile connection: the bytes to send, packet by packet, and how. Replay it with
/// <see cref="CampaignCases.Create"/> and the same seed and index.
internal sealed record CampaignCase(int Seed, long Index, CampaignTransport Transport, byte ProtocolLevel, List<byte[]> Packets,
    ScramPlan? Scram, string Description)
{
    public string Id => $"seed {Seed} case {Index}";

    public override string ToString() => $"{Id} ({Description})";
}

/// Generates the campaign's cases. Each starts from a valid packet sequence — CONNECT (plain, with a will, or
/// with a SCRAM-SHA-256 or other authentication method), SUBSCRIBE, PUBLISH at QoS 0/1/2, PUBREL, PINGREQ,
/// UNSUBSCRIBE, AUTH, DISCONNECT — with fields at 16-bit boundary lengths and unknown property ids, then
/// flips bytes, truncates, duplicates, splices, sets length prefixes to boundaries. Everything comes from
/// one Random seeded with (seed, index), so a case is rebuilt exactly from those two numbers.
internal static class CampaignCases
{
    public const string User = "alice";
    public const string Password = "a";
    public const string ScramUser = "erin";
    public const string ScramPassword = "erin-secret";
    public const string Scram = "SCRAM-SHA-256";

    private static readonly LongField[] s_v3Fields =
    [
        LongField.ClientId, LongField.UserName, LongField.Password, LongField.WillTopic, LongField.WillPayload,
        LongField.PublishTopic, LongField.SubscribeFilter, LongField.UnsubscribeFilter,
    ];

    private static readonly LongField[] s_v5Fields = Enum.GetValues<LongField>();

    private static readonly int[] s_remainingLengths = [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455];

    private static readonly byte[][] s_uint16s = [[0xFF, 0xFF], [0xFF, 0xFE], [0x00, 0x00], [0x7F, 0xFF], [0x80, 0x00], [0x00, 0x01]];

    /// A 16-bit-boundary length: mostly within the last 56 (where quoting a field in a reason string or a log
    /// line overflows 65 535), sometimes the two largest, sometimes another power-of-two edge.
    private static int BoundaryLength(Random random) => random.Next(10) switch
    {
        < 4 => random.Next(65_480, 65_536),
        < 6 => 65_535,
        < 8 => 65_534,
        8 => 65_511,
        _ => new[] { 0, 1, 255, 256, 32_767, 32_768, 65_533 }[random.Next(7)],
    };

    public static CampaignCase Create(int seed, long index)
    {
        var random = new Random(unchecked((int)(seed * 1_000_003L + index * 7_919L)));
        var notes = new List<string>();
        var transport = random.Next(10) switch { < 5 => CampaignTransport.Tcp, < 7 => CampaignTransport.Tls, < 9 => CampaignTransport.Ws, _ => CampaignTransport.Wss };
        var level = random.Next(3) == 0 ? (byte)4 : (byte)5;
        var v5 = level == 5;
        notes.Add(transport.ToString().ToLowerInvariant());
        notes.Add(v5 ? "v5" : "v3.1.1");

        var lengths = new Dictionary<LongField, int>();
        var fields = v5 ? s_v5Fields : s_v3Fields;
        for (var i = random.Next(10) switch { < 4 => 0, < 9 => 1, _ => 2 }; i > 0; i--)
            lengths[fields[random.Next(fields.Length)]] = BoundaryLength(random);
        foreach (var (field, length) in lengths)
            notes.Add($"long {field} {length.ToString(CultureInfo.InvariantCulture)}");

        var clientId = "fz" + index.ToString(CultureInfo.InvariantCulture) + "-" + seed.ToString(CultureInfo.InvariantCulture);
        var builder = new SequenceBuilder(random, level, lengths, clientId);
        var scram = v5 && random.Next(6) == 0;
        ScramPlan? plan = null;
        var packets = new List<CampaignPacket> { scram ? builder.ScramConnect(out plan) : builder.Connect(notes) };
        if (scram)
            notes.Add(plan!.SpoilProof ? "scram (spoiled proof)" : "scram");
        packets.AddRange(builder.Session(notes));

        var randomProperties = 0;
        if (v5)
        {
            foreach (var packet in packets.Where(p => p.Properties is not null && random.Next(6) == 0))
            {
                AddRandomProperty(packet, random);
                randomProperties++;
            }
        }
        if (randomProperties > 0)
            notes.Add($"random property ×{randomProperties}");

        var encoded = packets.Select(p => p.Encode()).ToList();
        var mutations = random.Next(4) == 0 ? 0 : random.Next(1, 4);
        for (var i = 0; i < mutations; i++)
            notes.Add(Mutate(encoded, random, keepFirst: scram || random.Next(3) != 0));
        return new CampaignCase(seed, index, transport, level, encoded, plan, string.Join(", ", notes));
    }

    /// A property with any id (most are not MQTT's, or not allowed in this packet) and a value of a plausible
    /// shape: nothing, a byte, four bytes, a length-prefixed string, or a variable byte integer.
    public static void AddRandomProperty(CampaignPacket packet, Random random)
    {
        var id = (byte)random.Next(256);
        byte[] value = random.Next(5) switch
        {
            0 => [],
            1 => [(byte)random.Next(256)],
            2 => [(byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)],
            3 => [.. Lengthed(Filler(random, random.Next(0, 40)))],
            _ => [0xFF, 0xFF, 0xFF, 0x7F],
        };
        packet.AddProperty(id, value, lengthPrefixed: false);
    }

    private static List<byte> Lengthed(byte[] value)
    {
        var list = new List<byte>();
        CampaignPacket.AddBinary(list, value);
        return list;
    }

    /// Printable ASCII (valid UTF-8, no wildcard or separator), so a long field is refused for its length or
    /// meaning, not its encoding.
    public static byte[] Filler(Random random, int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
            bytes[i] = (byte)('a' + random.Next(26));
        return bytes;
    }

    private static string Mutate(List<byte[]> packets, Random random, bool keepFirst)
    {
        var first = keepFirst && packets.Count > 1 ? 1 : 0;
        var p = random.Next(first, packets.Count);
        var packet = packets[p];
        switch (packet.Length == 0 ? 8 : random.Next(9))
        {
            case 0:
            case 1:
                var flips = random.Next(1, 5);
                var flipped = packet.ToArray();
                for (var i = 0; i < flips; i++)
                {
                    var at = random.Next(flipped.Length);
                    flipped[at] = random.Next(2) == 0 ? (byte)random.Next(256) : (byte)(flipped[at] ^ (1 << random.Next(8)));
                }
                packets[p] = flipped;
                return $"flip {flips} in packet {p}";
            case 2:
                var cut = random.Next(packet.Length);
                packets[p] = packet[..cut];
                packets.RemoveRange(p + 1, packets.Count - p - 1);
                return $"truncate packet {p} at {cut}";
            case 3:
                var to = random.Next(p, packets.Count + 1);
                packets.Insert(to, packet);
                return $"duplicate packet {p} at {to}";
            case 4:
                if (random.Next(2) == 0 && packets.Count > 2)
                {
                    var q = random.Next(first, packets.Count);
                    (packets[p], packets[q]) = (packets[q], packets[p]);
                    return $"swap packets {p} and {q}";
                }
                var pool = random.Next(2) == 0 ? MqttVectors.Valid.Select(v => (v.Name, v.Bytes)).ToList() : MqttVectors.Invalid.Select(v => (v.Name, v.Bytes)).ToList();
                var (name, bytes) = pool[random.Next(pool.Count)];
                var at2 = random.Next(Math.Max(first, 1), packets.Count + 1);
                packets.Insert(at2, bytes);
                return $"splice vector '{name}' at {at2}";
            case 5:
                var length = random.Next(3) == 0 ? BodyLength(packet) + random.Next(-2, 3) : s_remainingLengths[random.Next(s_remainingLengths.Length)];
                packets[p] = WithRemainingLength(packet, Math.Clamp(length, 0, 268_435_455));
                return $"remaining length of packet {p} = {length}";
            case 6:
                if (packet.Length < 4)
                    goto case 0;
                var boundary = s_uint16s[random.Next(s_uint16s.Length)];
                var set = packet.ToArray();
                var offset = random.Next(2, set.Length - 1);
                set[offset] = boundary[0];
                set[offset + 1] = boundary[1];
                packets[p] = set;
                return $"u16 {Convert.ToHexString(boundary)} at {offset} of packet {p}";
            case 7:
                var header = packet.ToArray();
                header[0] = random.Next(2) == 0 ? (byte)((header[0] & 0xF0) | random.Next(16)) : (byte)(random.Next(16) << 4 | (header[0] & 0x0F));
                packets[p] = header;
                return $"header of packet {p} = 0x{header[0]:X2}";
            default:
                var garbage = new byte[random.Next(1, 64)];
                random.NextBytes(garbage);
                var at3 = random.Next(first, packets.Count + 1);
                packets.Insert(at3, garbage);
                return $"{garbage.Length} random bytes at {at3}";
        }
    }

    private static int BodyLength(byte[] packet)
    {
        int length = 0, shift = 0;
        for (var i = 1; i < packet.Length && i < 5; i++)
        {
            length |= (packet[i] & 0x7F) << shift;
            shift += 7;
            if ((packet[i] & 0x80) == 0)
                break;
        }
        return length;
    }

    private static byte[] WithRemainingLength(byte[] packet, int length)
    {
        var i = 1;
        while (i < packet.Length && i < 5 && (packet[i] & 0x80) != 0)
            i++;
        var rebuilt = new List<byte> { packet[0] };
        WireBytes.AddVariableByteInteger(rebuilt, length);
        rebuilt.AddRange(packet.AsSpan(Math.Min(i + 1, packet.Length)).ToArray());
        return [.. rebuilt];
    }

    /// Builds the valid sequence for one case, with the chosen fields long.
    private sealed class SequenceBuilder(Random random, byte level, Dictionary<LongField, int> lengths, string clientId)
    {
        private readonly bool _v5 = level == 5;
        private ushort _packetId;

        private byte[] Field(LongField field, string normal) =>
            lengths.TryGetValue(field, out var length) ? Filler(random, length) : Encoding.UTF8.GetBytes(normal);

        /// A topic under fuzz/ that the ACL lets alice use; long ones keep the prefix.
        private byte[] Topic(LongField field, string suffix)
        {
            if (!lengths.TryGetValue(field, out var length))
                return Encoding.UTF8.GetBytes($"fuzz/{clientId}/{suffix}");
            var topic = Filler(random, length);
            if (length >= 5)
                "fuzz/"u8.CopyTo(topic);
            return topic;
        }

        private bool Long(LongField field) => lengths.ContainsKey(field);

        public CampaignPacket Connect(List<string> notes)
        {
            var connect = new CampaignPacket(0x10, _v5);
            CampaignPacket.AddString(connect.Head, "MQTT");
            connect.Head.Add(level);
            var credentials = Long(LongField.UserName) || Long(LongField.Password) ? 0 : random.Next(10);
            var (user, password) = credentials switch
            {
                < 6 => (User, Password),
                < 7 => (ScramUser, ScramPassword),
                7 => (User, "wrong"),
                8 => ("mallory", "x"),
                _ => (null, null),
            };
            if (Long(LongField.UserName) || Long(LongField.Password))
                (user, password) = (User, Password);
            if (credentials >= 7)
                notes.Add(user is null ? "anonymous" : "bad login");
            var will = Long(LongField.WillTopic) || Long(LongField.WillPayload) || Long(LongField.WillContentType) || Long(LongField.WillResponseTopic)
                || Long(LongField.WillCorrelationData) || Long(LongField.WillUserProperty) || random.Next(5) == 0;
            var willQos = random.Next(3);
            var flags = 0x02 | (user is null ? 0 : 0xC0) | (will ? 0x04 | willQos << 3 | (random.Next(10) == 0 ? 0x20 : 0) : 0);
            connect.Head.Add((byte)flags);
            CampaignPacket.AddUInt16(connect.Head, random.Next(4) == 0 ? random.Next(0, 5) : 60);

            var authentication = Long(LongField.AuthenticationMethod) || Long(LongField.AuthenticationData) ? 1 : random.Next(12);
            if (authentication < 2 && _v5)
            {
                // SCRAM-SHA-256 with data that is not a client-first message, or a method the broker does not know.
                var method = Long(LongField.AuthenticationMethod) ? Filler(random, lengths[LongField.AuthenticationMethod])
                    : authentication == 0 ? "PLAIN"u8.ToArray() : Encoding.ASCII.GetBytes(Scram);
                connect.AddProperty(0x15, method);
                connect.AddProperty(0x16, Long(LongField.AuthenticationData) ? Filler(random, lengths[LongField.AuthenticationData]) : Filler(random, random.Next(0, 30)));
                notes.Add("authentication method " + (method.Length > 20 ? $"({method.Length} bytes)" : Encoding.ASCII.GetString(method)));
            }
            if (Long(LongField.ConnectUserProperty) || random.Next(4) == 0)
                connect.AddUserProperty(Field(LongField.ConnectUserProperty, "k"), Field(LongField.ConnectUserProperty, "v"));
            if (random.Next(4) == 0)
                connect.AddProperty(0x27, [0x00, 0x00, 0x10, 0x00], lengthPrefixed: false); // maximum packet size 4096

            CampaignPacket.AddBinary(connect.Payload, Field(LongField.ClientId, clientId));
            if (will)
            {
                if (_v5)
                {
                    var properties = new CampaignPacket(0, true);
                    if (Long(LongField.WillContentType) || random.Next(2) == 0)
                        properties.AddProperty(0x03, Field(LongField.WillContentType, "text/plain"));
                    if (Long(LongField.WillResponseTopic) || random.Next(3) == 0)
                        properties.AddProperty(0x08, Topic(LongField.WillResponseTopic, "reply"));
                    if (Long(LongField.WillCorrelationData) || random.Next(3) == 0)
                        properties.AddProperty(0x09, Field(LongField.WillCorrelationData, "correlation"));
                    if (Long(LongField.WillUserProperty) || random.Next(3) == 0)
                        properties.AddUserProperty(Field(LongField.WillUserProperty, "wk"), Field(LongField.WillUserProperty, "wv"));
                    WireBytes.AddVariableByteInteger(connect.Payload, properties.Properties!.Count);
                    connect.Payload.AddRange(properties.Properties);
                }
                CampaignPacket.AddBinary(connect.Payload, Topic(LongField.WillTopic, "will"));
                CampaignPacket.AddBinary(connect.Payload, Field(LongField.WillPayload, "gone"));
            }
            if (user is not null)
            {
                CampaignPacket.AddBinary(connect.Payload, Field(LongField.UserName, user));
                CampaignPacket.AddBinary(connect.Payload, Field(LongField.Password, password!));
            }
            return connect;
        }

        public CampaignPacket ScramConnect(out ScramPlan plan)
        {
            var user = Long(LongField.ScramUserName) ? Encoding.ASCII.GetString(Filler(random, lengths[LongField.ScramUserName]))
                : random.Next(8) == 0 ? User : ScramUser; // alice has no SCRAM keys
            var password = random.Next(8) == 0 ? "not-" + ScramPassword : ScramPassword;
            var client = new ScramAuthenticationHandler(user, password);
            var connect = new CampaignPacket(0x10, true);
            CampaignPacket.AddString(connect.Head, "MQTT");
            connect.Head.Add(5);
            connect.Head.Add(0x02);
            CampaignPacket.AddUInt16(connect.Head, 60);
            connect.AddProperty(0x15, Encoding.ASCII.GetBytes(Scram));
            connect.AddProperty(0x16, client.ClientFirst());
            CampaignPacket.AddBinary(connect.Payload, Encoding.ASCII.GetBytes(clientId));
            plan = new ScramPlan(client, SpoilProof: random.Next(6) == 0,
                ReasonStringLength: Long(LongField.AuthReasonString) ? lengths[LongField.AuthReasonString] : -1,
                DataLength: Long(LongField.ScramClientFinalData) ? lengths[LongField.ScramClientFinalData] : -1,
                RandomPropertyId: random.Next(6) == 0 ? (byte)random.Next(256) : null);
            return connect;
        }

        private void AddPacketId(CampaignPacket packet) => CampaignPacket.AddUInt16(packet.Head, ++_packetId);

        /// What a client does once connected, each step present more often than not.
        public IEnumerable<CampaignPacket> Session(List<string> notes)
        {
            if (Long(LongField.SubscribeFilter) || Long(LongField.SubscribeUserProperty) || random.Next(5) > 0)
            {
                var subscribe = new CampaignPacket(0x82, _v5);
                AddPacketId(subscribe);
                if (random.Next(4) == 0)
                    subscribe.AddProperty(0x0B, [(byte)random.Next(1, 128)], lengthPrefixed: false); // subscription identifier
                if (Long(LongField.SubscribeUserProperty))
                    subscribe.AddUserProperty(Field(LongField.SubscribeUserProperty, "k"), Field(LongField.SubscribeUserProperty, "v"));
                var filter = Long(LongField.SubscribeFilter) ? Topic(LongField.SubscribeFilter, "") : Encoding.UTF8.GetBytes(random.Next(4) == 0 ? "fuzz/#" : $"fuzz/{clientId}/#");
                CampaignPacket.AddBinary(subscribe.Payload, filter);
                subscribe.Payload.Add((byte)random.Next(3));
                if (random.Next(4) == 0)
                {
                    CampaignPacket.AddString(subscribe.Payload, random.Next(2) == 0 ? "$SYS/#" : "campaign/+/x");
                    subscribe.Payload.Add(1);
                }
                yield return subscribe;
            }

            for (var qos = 0; qos <= 2; qos++)
            {
                if (random.Next(5) == 0 && !Long(LongField.PublishTopic))
                    continue;
                var retain = random.Next(20) == 0;
                var publish = new CampaignPacket((byte)(0x30 | qos << 1 | (retain ? 1 : 0)), _v5);
                var topic = retain ? Encoding.ASCII.GetBytes($"fuzz/retained/{random.Next(4)}") : Topic(LongField.PublishTopic, "q" + qos.ToString(CultureInfo.InvariantCulture));
                CampaignPacket.AddBinary(publish.Head, topic);
                if (qos > 0)
                    AddPacketId(publish);
                if (Long(LongField.PublishContentType) || random.Next(4) == 0)
                    publish.AddProperty(0x03, Field(LongField.PublishContentType, "application/json"));
                if (Long(LongField.PublishResponseTopic) || random.Next(4) == 0)
                    publish.AddProperty(0x08, Topic(LongField.PublishResponseTopic, "reply"));
                if (Long(LongField.PublishCorrelationData) || random.Next(4) == 0)
                    publish.AddProperty(0x09, Field(LongField.PublishCorrelationData, "c"));
                if (Long(LongField.PublishUserProperty) || random.Next(4) == 0)
                    publish.AddUserProperty(Field(LongField.PublishUserProperty, "k"), Field(LongField.PublishUserProperty, "v"));
                if (random.Next(6) == 0)
                    publish.AddProperty(0x23, [0x00, (byte)random.Next(0, 3)], lengthPrefixed: false); // topic alias
                publish.Payload.AddRange(Filler(random, random.Next(0, 64)));
                yield return publish;

                if (qos == 2 && (Long(LongField.PubrelReasonString) || random.Next(5) > 0))
                {
                    var pubrel = new CampaignPacket(0x62, false);
                    CampaignPacket.AddUInt16(pubrel.Head, _packetId);
                    if (_v5)
                    {
                        pubrel.Head.Add(0x00);
                        var properties = new CampaignPacket(0, true);
                        if (Long(LongField.PubrelReasonString))
                            properties.AddProperty(0x1F, Field(LongField.PubrelReasonString, ""));
                        WireBytes.AddVariableByteInteger(pubrel.Head, properties.Properties!.Count);
                        pubrel.Head.AddRange(properties.Properties);
                    }
                    yield return pubrel;
                }
            }

            if (random.Next(4) > 0)
                yield return new CampaignPacket(0xC0, false);

            if (_v5 && (Long(LongField.AuthReasonString) || random.Next(8) == 0))
            {
                // Re-authentication on a connection that did not authenticate with a method: a protocol error
                // the broker must answer by closing.
                var auth = new CampaignPacket(0xF0, false);
                auth.Head.Add(random.Next(2) == 0 ? (byte)0x19 : (byte)0x18);
                var properties = new CampaignPacket(0, true);
                properties.AddProperty(0x15, Encoding.ASCII.GetBytes(Scram));
                properties.AddProperty(0x16, new ScramAuthenticationHandler(ScramUser, ScramPassword).ClientFirst());
                if (Long(LongField.AuthReasonString))
                    properties.AddProperty(0x1F, Field(LongField.AuthReasonString, ""));
                WireBytes.AddVariableByteInteger(auth.Head, properties.Properties!.Count);
                auth.Head.AddRange(properties.Properties);
                notes.Add("AUTH");
                yield return auth;
            }

            if (Long(LongField.UnsubscribeFilter) || Long(LongField.UnsubscribeUserProperty) || random.Next(3) > 0)
            {
                var unsubscribe = new CampaignPacket(0xA2, _v5);
                AddPacketId(unsubscribe);
                if (Long(LongField.UnsubscribeUserProperty))
                    unsubscribe.AddUserProperty(Field(LongField.UnsubscribeUserProperty, "k"), Field(LongField.UnsubscribeUserProperty, "v"));
                CampaignPacket.AddBinary(unsubscribe.Payload, Topic(LongField.UnsubscribeFilter, "#"));
                yield return unsubscribe;
            }

            if (Long(LongField.DisconnectReasonString) || Long(LongField.DisconnectUserProperty) || random.Next(10) < 7)
            {
                var disconnect = new CampaignPacket(0xE0, false);
                if (_v5)
                {
                    disconnect.Head.Add(random.Next(3) == 0 ? (byte)0x04 : (byte)0x00); // 0x04: with the will
                    var properties = new CampaignPacket(0, true);
                    if (Long(LongField.DisconnectReasonString) || random.Next(4) == 0)
                        properties.AddProperty(0x1F, Field(LongField.DisconnectReasonString, "bye"));
                    if (Long(LongField.DisconnectUserProperty))
                        properties.AddUserProperty(Field(LongField.DisconnectUserProperty, "k"), Field(LongField.DisconnectUserProperty, "v"));
                    if (random.Next(8) == 0)
                        properties.AddProperty(0x11, [0x00, 0x00, 0x00, 0x10], lengthPrefixed: false); // session expiry: a protocol error after 0
                    WireBytes.AddVariableByteInteger(disconnect.Head, properties.Properties!.Count);
                    disconnect.Head.AddRange(properties.Properties);
                }
                yield return disconnect;
            }
        }
    }

    /// The AUTH packet answering the server's AUTH 0x18: client-final, spoiled as planned.
    public static byte[] ClientFinalAuth(ScramPlan plan, byte[] serverFirst, Random random)
    {
        var final = plan.Client.ClientFinal(serverFirst);
        if (plan.SpoilProof)
            final[^3] ^= 0x01;
        if (plan.DataLength >= 0)
            final = [.. final, .. Filler(random, Math.Max(0, plan.DataLength - final.Length))];
        var auth = new CampaignPacket(0xF0, false);
        auth.Head.Add(0x18);
        var properties = new CampaignPacket(0, true);
        properties.AddProperty(0x15, Encoding.ASCII.GetBytes(Scram));
        properties.AddProperty(0x16, final);
        if (plan.ReasonStringLength >= 0)
            properties.AddProperty(0x1F, Filler(random, plan.ReasonStringLength));
        if (plan.RandomPropertyId is { } id)
            properties.AddProperty(id, [0x01], lengthPrefixed: false);
        WireBytes.AddVariableByteInteger(auth.Head, properties.Properties!.Count);
        auth.Head.AddRange(properties.Properties);
        return auth.Encode();
    }
}
