using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;
using static Kirisame.Protocol.Tests.Support.Wire;

namespace Kirisame.Protocol.Tests.Vectors;

/// The shared table of hand-written packet bytes: <see cref="Valid"/> (bytes → packet) and
/// <see cref="Invalid"/> (bytes → rule and reason code). Every byte is spelled from the specification's
/// layouts (MQTT 3.1 "MQIsdp", 3.1.1 and 5.0), never produced by our encoder. Broker tests reuse it.
/// Strings in a vector are raw UTF-8 with no length prefix: each vector writes its own lengths.
// conformance: rows run by ValidVectorTests.Vector_DecodesWhole, ValidVectorTests.CanonicalVector_ReencodesToTheSameBytes
public static partial class MqttVectors
{
    public static IReadOnlyList<PacketVector> Valid { get; } = BuildValid();

    public static IReadOnlyList<InvalidVector> Invalid { get; } = BuildInvalid();

    public static PacketVector GetValid(string name) => Valid.Single(v => v.Name == name);

    public static InvalidVector GetInvalid(string name) => Invalid.Single(v => v.Name == name);

    private static PublishMessagePacket Publish(
        string topic,
        byte[] payload,
        QualityOfService qos = QualityOfService.AtMostOnce,
        ushort packetId = 0,
        bool retain = false,
        bool dup = false,
        MqttProperties? properties = null)
        => new(new PublishPacket
        {
            QoS = qos,
            PacketId = packetId,
            Retain = retain,
            Dup = dup,
            Topic = System.Text.Encoding.UTF8.GetBytes(topic),
            Payload = payload,
            Properties = PublishProperties.From(properties),
        });

    private static MqttProperties UserKv(MqttProperties? p = null)
    {
        p ??= new MqttProperties();
        p.AddUserProperty("k", "v");
        return p;
    }

    private static List<PacketVector> BuildValid()
    {
        var list = new List<PacketVector>();

        void Add(string name, ProtocolVersion version, byte[] bytes, MqttPacket expected, bool canonical = true)
            => list.Add(new PacketVector(name, version, bytes, expected, canonical));

        // Bytes that mean the same in 3.1 and 3.1.1 (everything but CONNECT, CONNACK and SUBACK's 0x80).
        void V3x(string name, byte[] bytes, Func<MqttPacket> expected)
        {
            Add($"v3.1 {name}", ProtocolVersion.V310, bytes, expected());
            Add($"v3.1.1 {name}", ProtocolVersion.V311, bytes, expected());
        }

        // ---------------------------------------------------------------- MQTT 3.1 (level 3, "MQIsdp")
        Add("v3.1 CONNECT minimal", ProtocolVersion.V310, Bytes(
            0x10, 0x0F,                 // CONNECT, remaining length 15
            0x00, 0x06, "MQIsdp",       // protocol name, 3.1 spelling
            0x03,                       // protocol level 3
            0x02,                       // connect flags: clean session
            0x00, 0x3C,                 // keep alive 60 s
            0x00, 0x01, "c"),           // client identifier "c"
            new ConnectPacket { ProtocolVersion = ProtocolVersion.V310, KeepAlive = 60, ClientId = "c" });

        Add("v3.1 CONNECT user name and password", ProtocolVersion.V310, Bytes(
            0x10, 0x15,                 // CONNECT, remaining length 21
            0x00, 0x06, "MQIsdp", 0x03,
            0xC2,                       // flags: user name, password, clean session
            0x00, 0x3C,
            0x00, 0x01, "c",
            0x00, 0x01, "u",            // user name "u"
            0x00, 0x01, "p"),           // password "p"
            new ConnectPacket { ProtocolVersion = ProtocolVersion.V310, KeepAlive = 60, ClientId = "c", UserName = "u", Password = "p"u8.ToArray() });

        Add("v3.1 CONNECT will QoS 2", ProtocolVersion.V310, Bytes(
            0x10, 0x14,                 // CONNECT, remaining length 20
            0x00, 0x06, "MQIsdp", 0x03,
            0x16,                       // flags: will QoS 2 (bits 4-3 = 10), will flag, clean session
            0x00, 0x3C,
            0x00, 0x01, "c",
            0x00, 0x01, "t",            // will topic "t"
            0x00, 0x00),                // will message: empty
            new ConnectPacket
            {
                ProtocolVersion = ProtocolVersion.V310, KeepAlive = 60, ClientId = "c",
                Will = new WillMessage { Topic = "t", Payload = [], QoS = QualityOfService.ExactlyOnce },
            });

        Add("v3.1 CONNACK accepted", ProtocolVersion.V310, Bytes(
            0x20, 0x02,                 // CONNACK, remaining length 2
            0x00,                       // reserved (3.1 has no session present flag)
            0x00),                      // return code 0: accepted
            new ConnAckPacket { ReturnCode = ConnectReturnCode.Accepted, ReasonCode = ReasonCode.Success });

        Add("v3.1 CONNACK identifier rejected", ProtocolVersion.V310, Bytes(
            0x20, 0x02, 0x00,
            0x02),                      // return code 2: identifier rejected
            new ConnAckPacket { ReturnCode = ConnectReturnCode.IdentifierRejected, ReasonCode = ReasonCode.ClientIdentifierNotValid });

        Add("v3.1 CONNACK ignores bit 0 of its reserved byte", ProtocolVersion.V310, Bytes(
            0x20, 0x02,
            0x01,                       // reserved in 3.1: not a session present flag, so not reported (nor re-encoded)
            0x00),
            new ConnAckPacket { ReturnCode = ConnectReturnCode.Accepted, ReasonCode = ReasonCode.Success }, canonical: false);

        Add("v3.1 SUBACK granted QoS", ProtocolVersion.V310, Bytes(
            0x90, 0x04,                 // SUBACK, remaining length 4
            0x00, 0x0A,                 // packet identifier 10
            0x01, 0x02),                // granted QoS 1, granted QoS 2
            new SubAckPacket { PacketId = 10, ReasonCodes = [ReasonCode.GrantedQoS1, ReasonCode.GrantedQoS2] });

        // ---------------------------------------------------------------- MQTT 3.1.1 (level 4)
        Add("v3.1.1 CONNECT minimal", ProtocolVersion.V311, Bytes(
            0x10, 0x0D,                 // CONNECT, remaining length 13
            0x00, 0x04, "MQTT",         // protocol name
            0x04,                       // protocol level 4
            0x02,                       // flags: clean session
            0x00, 0x3C,                 // keep alive 60 s
            0x00, 0x01, "c"),           // client identifier "c"
            new ConnectPacket { ProtocolVersion = ProtocolVersion.V311, KeepAlive = 60, ClientId = "c" });

        Add("v3.1.1 CONNECT empty client id, no clean session", ProtocolVersion.V311, Bytes(
            0x10, 0x0C,                 // CONNECT, remaining length 12
            0x00, 0x04, "MQTT", 0x04,
            0x00,                       // flags: none (whether a server accepts this is its business, section 3.1.3.1)
            0x00, 0x00,                 // keep alive 0: off
            0x00, 0x00),                // client identifier: empty
            new ConnectPacket { ProtocolVersion = ProtocolVersion.V311, CleanStart = false, KeepAlive = 0, ClientId = "" });

        Add("v3.1.1 CONNECT will, user name and password", ProtocolVersion.V311, Bytes(
            0x10, 0x23,                 // CONNECT, remaining length 35
            0x00, 0x04, "MQTT", 0x04,
            0xEE,                       // flags: user name, password, will retain, will QoS 1, will flag, clean session
            0x00, 0x0A,                 // keep alive 10 s
            0x00, 0x03, "cid",          // client identifier
            0x00, 0x03, "w/t",          // will topic
            0x00, 0x02, "by",           // will message
            0x00, 0x04, "user",         // user name
            0x00, 0x03, 0x01, 0x02, 0x03), // password: binary data
            new ConnectPacket
            {
                ProtocolVersion = ProtocolVersion.V311, KeepAlive = 10, ClientId = "cid",
                Will = new WillMessage { Topic = "w/t", Payload = "by"u8.ToArray(), QoS = QualityOfService.AtLeastOnce, Retain = true },
                UserName = "user", Password = [1, 2, 3],
            });

        Add("v3.1.1 CONNACK session present", ProtocolVersion.V311, Bytes(
            0x20, 0x02,                 // CONNACK, remaining length 2
            0x01,                       // acknowledge flags: session present
            0x00),                      // return code 0: accepted
            new ConnAckPacket { SessionPresent = true, ReturnCode = ConnectReturnCode.Accepted, ReasonCode = ReasonCode.Success });

        Add("v3.1.1 CONNACK bad user name or password", ProtocolVersion.V311, Bytes(
            0x20, 0x02, 0x00,
            0x04),                      // return code 4
            new ConnAckPacket { ReturnCode = ConnectReturnCode.BadUserNameOrPassword, ReasonCode = ReasonCode.BadUserNameOrPassword });

        Add("v3.1.1 CONNACK not authorized", ProtocolVersion.V311, Bytes(
            0x20, 0x02, 0x00,
            0x05),                      // return code 5
            new ConnAckPacket { ReturnCode = ConnectReturnCode.NotAuthorized, ReasonCode = ReasonCode.NotAuthorized });

        Add("v3.1.1 SUBACK with failure", ProtocolVersion.V311, Bytes(
            0x90, 0x04,                 // SUBACK, remaining length 4
            0x00, 0x0A,                 // packet identifier 10
            0x01,                       // granted QoS 1
            0x80),                      // failure (3.1.1 only)
            new SubAckPacket { PacketId = 10, ReasonCodes = [ReasonCode.GrantedQoS1, ReasonCode.UnspecifiedError] });

        // ---------------------------------------------------------------- 3.1 and 3.1.1 alike
        V3x("PUBLISH QoS 0", Bytes(
            0x30, 0x07,                 // PUBLISH, QoS 0, remaining length 7
            0x00, 0x03, "a/b",          // topic name
            "hi"),                      // payload (no packet identifier at QoS 0 [MQTT-2.2.1-2])
            () => Publish("a/b", "hi"u8.ToArray()));

        V3x("PUBLISH QoS 1 retained", Bytes(
            0x33, 0x08,                 // PUBLISH, flags 0011: QoS 1, retain; remaining length 8
            0x00, 0x03, "a/b",
            0x00, 0x07,                 // packet identifier 7
            "x"),
            () => Publish("a/b", "x"u8.ToArray(), QualityOfService.AtLeastOnce, 7, retain: true));

        V3x("PUBLISH QoS 2 DUP empty payload", Bytes(
            0x3C, 0x05,                 // PUBLISH, flags 1100: DUP, QoS 2; remaining length 5
            0x00, 0x01, "t",
            0x00, 0x01),                // packet identifier 1; the payload is empty
            () => Publish("t", [], QualityOfService.ExactlyOnce, 1, dup: true));

        V3x("PUBLISH UTF-8 topic", Bytes(
            0x30, 0x08,                 // PUBLISH, remaining length 8
            0x00, 0x06,
            0xC3, 0xBC, 0x2F, 0xE6, 0x97, 0xA5), // "ü/日": U+00FC in 2 bytes, '/', U+65E5 in 3 bytes
            () => Publish("ü/日", []));

        V3x("PUBLISH topic with a byte order mark", Bytes(
            0x30, 0x06,                 // PUBLISH, remaining length 6
            0x00, 0x04,
            0xEF, 0xBB, 0xBF, "a"),     // U+FEFF then 'a': kept, not skipped or stripped [MQTT-1.5.4-3]
            () => Publish("\uFEFFa", []));

        var payload200 = Enumerable.Range(0, 200).Select(i => (byte)i).ToArray();
        V3x("PUBLISH two-byte remaining length", Bytes(
            0x30, 0xCB, 0x01,           // remaining length 203 = 0x4B + 1 * 128: low 7 bits first, continuation bit set
            0x00, 0x01, "t",
            payload200),                // 200 payload bytes 00 01 02 ... C7
            () => Publish("t", payload200));

        V3x("PUBACK", Bytes(0x40, 0x02, 0x00, 0x07), () => new PublishAckPacket(PacketType.PubAck, 7));     // packet id 7
        V3x("PUBACK id 65535", Bytes(0x40, 0x02, 0xFF, 0xFF), () => new PublishAckPacket(PacketType.PubAck, 65535));
        V3x("PUBREC", Bytes(0x50, 0x02, 0x00, 0x07), () => new PublishAckPacket(PacketType.PubRec, 7));
        V3x("PUBREL", Bytes(0x62, 0x02, 0x00, 0x07), () => new PublishAckPacket(PacketType.PubRel, 7));     // flags 0010 [MQTT-3.6.1-1]
        V3x("PUBCOMP", Bytes(0x70, 0x02, 0x00, 0x07), () => new PublishAckPacket(PacketType.PubComp, 7));

        V3x("SUBSCRIBE two filters", Bytes(
            0x82, 0x0E,                 // SUBSCRIBE, flags 0010 [MQTT-3.8.1-1]; remaining length 14
            0x00, 0x0A,                 // packet identifier 10
            0x00, 0x03, "a/b", 0x01,    // filter "a/b", requested QoS 1
            0x00, 0x03, "c/#", 0x02),   // filter "c/#", requested QoS 2
            () => new SubscribePacket
            {
                PacketId = 10,
                Subscriptions = [new("a/b", QualityOfService.AtLeastOnce), new("c/#", QualityOfService.ExactlyOnce)],
            });

        V3x("UNSUBSCRIBE two filters", Bytes(
            0xA2, 0x0C,                 // UNSUBSCRIBE, flags 0010 [MQTT-3.10.1-1]; remaining length 12
            0x00, 0x0B,                 // packet identifier 11
            0x00, 0x03, "a/b",
            0x00, 0x03, "c/#"),
            () => new UnsubscribePacket { PacketId = 11, Filters = ["a/b", "c/#"] });

        V3x("UNSUBACK", Bytes(0xB0, 0x02, 0x00, 0x0B), () => new UnsubAckPacket { PacketId = 11 }); // no payload before 5.0
        V3x("PINGREQ", Bytes(0xC0, 0x00), () => PingReqPacket.Instance);
        V3x("PINGRESP", Bytes(0xD0, 0x00), () => PingRespPacket.Instance);
        V3x("DISCONNECT", Bytes(0xE0, 0x00), () => new DisconnectPacket());

        AddV5(Add);
        return list;
    }
}
