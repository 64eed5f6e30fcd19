using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;
using static Kirisame.Protocol.Tests.Support.Wire;

namespace Kirisame.Protocol.Tests.Vectors;

/// MQTT 5.0 vectors. Between them they carry every property of section 2.2.2.2 at least once, in a packet
/// that allows it; properties are in ascending identifier order, the order our encoder writes.
// conformance: rows run by ValidVectorTests.Vector_DecodesWhole, ValidVectorTests.CanonicalVector_ReencodesToTheSameBytes
public static partial class MqttVectors
{
    private static void AddV5(Action<string, ProtocolVersion, byte[], MqttPacket, bool> add)
    {
        const ProtocolVersion V5 = ProtocolVersion.V500;

        add("v5 CONNECT minimal", V5, Bytes(
            0x10, 0x0E,                 // CONNECT, remaining length 14
            0x00, 0x04, "MQTT",         // protocol name
            0x05,                       // protocol level 5
            0x02,                       // flags: clean start
            0x00, 0x3C,                 // keep alive 60 s
            0x00,                       // property length 0: no properties [MQTT-2.2.2-1]
            0x00, 0x01, "c"),           // client identifier
            new ConnectPacket { ProtocolVersion = V5, KeepAlive = 60, ClientId = "c" }, true);

        add("v5 CONNECT every CONNECT and will property", V5, Bytes(
            0x10, 0x6B,                 // CONNECT, remaining length 107
            0x00, 0x04, "MQTT", 0x05,
            0xD6,                       // flags: user name, password, will QoS 2, will flag, clean start
            0x00, 0x1E,                 // keep alive 30 s
            0x25,                       // property length 37
            0x11, 0x00, 0x00, 0x00, 0x78,         // Session Expiry Interval 120
            0x15, 0x00, 0x02, "am",               // Authentication Method "am"
            0x16, 0x00, 0x02, 0x01, 0x02,         // Authentication Data 01 02
            0x17, 0x00,                           // Request Problem Information 0
            0x19, 0x01,                           // Request Response Information 1
            0x21, 0x00, 0x14,                     // Receive Maximum 20
            0x22, 0x00, 0x0A,                     // Topic Alias Maximum 10
            0x26, 0x00, 0x01, "k", 0x00, 0x01, "v", // User Property k=v
            0x27, 0x00, 0x00, 0x10, 0x00,         // Maximum Packet Size 4096
            0x00, 0x02, "id",           // client identifier
            0x25,                       // will property length 37
            0x01, 0x01,                           // Payload Format Indicator 1: UTF-8
            0x02, 0x00, 0x00, 0x00, 0x3C,         // Message Expiry Interval 60
            0x03, 0x00, 0x04, "text",             // Content Type
            0x08, 0x00, 0x03, "r/t",              // Response Topic
            0x09, 0x00, 0x02, 0xAB, 0xCD,         // Correlation Data
            0x18, 0x00, 0x00, 0x00, 0x05,         // Will Delay Interval 5
            0x26, 0x00, 0x01, "a", 0x00, 0x01, "b", // User Property a=b
            0x00, 0x03, "w/t",          // will topic
            0x00, 0x03, "bye",          // will payload
            0x00, 0x01, "u",            // user name
            0x00, 0x02, "pw"),          // password
            new ConnectPacket
            {
                ProtocolVersion = V5, KeepAlive = 30, ClientId = "id", UserName = "u", Password = "pw"u8.ToArray(),
                Properties = UserKv(new MqttProperties
                {
                    SessionExpiryInterval = 120, AuthenticationMethod = "am", AuthenticationData = [1, 2],
                    RequestProblemInformation = 0, RequestResponseInformation = 1, ReceiveMaximum = 20,
                    TopicAliasMaximum = 10, MaximumPacketSize = 4096,
                }),
                Will = new WillMessage
                {
                    Topic = "w/t", Payload = "bye"u8.ToArray(), QoS = QualityOfService.ExactlyOnce,
                    Properties = new MqttProperties
                    {
                        PayloadFormatIndicator = 1, MessageExpiryInterval = 60, ContentType = "text", ResponseTopic = "r/t",
                        CorrelationData = [0xAB, 0xCD], WillDelayInterval = 5, UserProperties = [new("a", "b")],
                    },
                },
            }, true);

        add("v5 CONNECT password without user name", V5, Bytes(
            0x10, 0x12,                 // CONNECT, remaining length 18
            0x00, 0x04, "MQTT", 0x05,
            0x42,                       // flags: password, clean start; 5.0 allows a password alone (section 3.1.2.9)
            0x00, 0x3C, 0x00,
            0x00, 0x01, "c",
            0x00, 0x02, "pw"),
            new ConnectPacket { ProtocolVersion = V5, KeepAlive = 60, ClientId = "c", Password = "pw"u8.ToArray() }, true);

        add("v5 CONNACK every CONNACK property", V5, Bytes(
            0x20, 0x3C,                 // CONNACK, remaining length 60
            0x01,                       // acknowledge flags: session present
            0x00,                       // reason code: success
            0x39,                       // property length 57
            0x11, 0x00, 0x00, 0x00, 0x0A,         // Session Expiry Interval 10
            0x12, 0x00, 0x03, "gen",              // Assigned Client Identifier
            0x13, 0x00, 0x1E,                     // Server Keep Alive 30
            0x1A, 0x00, 0x02, "ri",               // Response Information
            0x1C, 0x00, 0x02, "sv",               // Server Reference
            0x1F, 0x00, 0x02, "ok",               // Reason String
            0x21, 0x00, 0x0A,                     // Receive Maximum 10
            0x22, 0x00, 0x05,                     // Topic Alias Maximum 5
            0x24, 0x01,                           // Maximum QoS 1
            0x25, 0x00,                           // Retain Available 0
            0x26, 0x00, 0x01, "k", 0x00, 0x01, "v", // User Property
            0x27, 0x00, 0x01, 0x00, 0x00,         // Maximum Packet Size 65536
            0x28, 0x00,                           // Wildcard Subscription Available 0
            0x29, 0x01,                           // Subscription Identifiers Available 1
            0x2A, 0x01),                          // Shared Subscription Available 1
            new ConnAckPacket
            {
                SessionPresent = true, ReasonCode = ReasonCode.Success,
                Properties = UserKv(new MqttProperties
                {
                    SessionExpiryInterval = 10, AssignedClientIdentifier = "gen", ServerKeepAlive = 30,
                    ResponseInformation = "ri", ServerReference = "sv", ReasonString = "ok", ReceiveMaximum = 10,
                    TopicAliasMaximum = 5, MaximumQoS = 1, RetainAvailable = 0, MaximumPacketSize = 65536,
                    WildcardSubscriptionAvailable = 0, SubscriptionIdentifierAvailable = 1, SharedSubscriptionAvailable = 1,
                }),
            }, true);

        add("v5 CONNACK not authorized", V5, Bytes(
            0x20, 0x03, 0x00,
            0x87,                       // reason code: not authorized
            0x00),                      // property length 0 (always present in CONNACK)
            new ConnAckPacket { ReasonCode = ReasonCode.NotAuthorized }, true);

        add("v5 PUBLISH QoS 0", V5, Bytes(
            0x30, 0x08,                 // PUBLISH, remaining length 8
            0x00, 0x03, "a/b",
            0x00,                       // property length 0
            "hi"),
            Publish("a/b", "hi"u8.ToArray()), true);

        add("v5 PUBLISH QoS 1 every PUBLISH property", V5, Bytes(
            0x32, 0x45,                 // PUBLISH, QoS 1; remaining length 69
            0x00, 0x03, "a/b",
            0x00, 0x01,                 // packet identifier 1
            0x38,                       // property length 56
            0x01, 0x01,                           // Payload Format Indicator 1
            0x02, 0x00, 0x00, 0x0E, 0x10,         // Message Expiry Interval 3600
            0x03, 0x00, 0x0A, "text/plain",       // Content Type
            0x08, 0x00, 0x05, "reply",            // Response Topic
            0x09, 0x00, 0x03, 0x01, 0x02, 0x03,   // Correlation Data
            0x0B, 0x81, 0x01,                     // Subscription Identifier 129 (variable byte integer 0x81 0x01)
            0x0B, 0x05,                           // Subscription Identifier 5: PUBLISH may carry several (section 3.3.4)
            0x23, 0x00, 0x02,                     // Topic Alias 2
            0x26, 0x00, 0x01, "k", 0x00, 0x01, "v", // User Property k=v
            0x26, 0x00, 0x01, "k", 0x00, 0x01, "w", // User Property k=w: names may repeat, order kept (section 3.3.2.3.7)
            "hello"),
            Publish("a/b", "hello"u8.ToArray(), QualityOfService.AtLeastOnce, 1, properties: new MqttProperties
            {
                PayloadFormatIndicator = 1, MessageExpiryInterval = 3600, ContentType = "text/plain", ResponseTopic = "reply",
                CorrelationData = [1, 2, 3], SubscriptionIdentifiers = [129, 5], TopicAlias = 2,
                UserProperties = [new("k", "v"), new("k", "w")],
            }), true);

        add("v5 PUBLISH empty topic with Topic Alias", V5, Bytes(
            0x30, 0x07,                 // PUBLISH, remaining length 7
            0x00, 0x00,                 // topic name: empty, stood for by the alias (section 3.3.2.3.4)
            0x03,                       // property length 3
            0x23, 0x00, 0x01,           // Topic Alias 1
            "x"),
            Publish("", "x"u8.ToArray(), properties: new MqttProperties { TopicAlias = 1 }), true);

        add("v5 PUBACK short form", V5, Bytes(
            0x40, 0x02, 0x00, 0x07),    // reason code and properties omitted: success (section 3.4.2.1)
            new PublishAckPacket(PacketType.PubAck, 7), true);

        add("v5 PUBACK reason code only", V5, Bytes(
            0x40, 0x03, 0x00, 0x07,
            0x10),                      // no matching subscribers; property length omitted
            new PublishAckPacket(PacketType.PubAck, 7, ReasonCode.NoMatchingSubscribers), true);

        add("v5 PUBACK reason code and properties", V5, Bytes(
            0x40, 0x12,                 // PUBACK, remaining length 18
            0x00, 0x07,
            0x80,                       // unspecified error
            0x0E,                       // property length 14
            0x1F, 0x00, 0x04, "nope",             // Reason String
            0x26, 0x00, 0x01, "k", 0x00, 0x01, "v"), // User Property
            new PublishAckPacket(PacketType.PubAck, 7, ReasonCode.UnspecifiedError, UserKv(new MqttProperties { ReasonString = "nope" })), true);

        add("v5 PUBACK success spelled out", V5, Bytes(
            0x40, 0x04, 0x00, 0x07,
            0x00,                       // success, written although it could be omitted
            0x00),                      // property length 0
            new PublishAckPacket(PacketType.PubAck, 7), false);

        add("v5 PUBACK success reason code without properties", V5, Bytes(
            0x40, 0x03, 0x00, 0x07,
            0x00),                      // success; property length omitted
            new PublishAckPacket(PacketType.PubAck, 7), false);

        add("v5 PUBREC packet identifier in use", V5, Bytes(
            0x50, 0x03, 0x00, 0x07,
            0x91),                      // packet identifier in use
            new PublishAckPacket(PacketType.PubRec, 7, ReasonCode.PacketIdentifierInUse), true);

        add("v5 PUBREL packet identifier not found", V5, Bytes(
            0x62, 0x03, 0x00, 0x07,
            0x92),                      // packet identifier not found
            new PublishAckPacket(PacketType.PubRel, 7, ReasonCode.PacketIdentifierNotFound), true);

        add("v5 PUBCOMP with reason string", V5, Bytes(
            0x70, 0x09, 0x00, 0x07,
            0x00,                       // success, needed because properties follow
            0x05,                       // property length 5
            0x1F, 0x00, 0x02, "ok"),    // Reason String
            new PublishAckPacket(PacketType.PubComp, 7, ReasonCode.Success, new MqttProperties { ReasonString = "ok" }), true);

        add("v5 SUBSCRIBE options and subscription identifier", V5, Bytes(
            0x82, 0x21,                 // SUBSCRIBE, remaining length 33
            0x00, 0x0A,                 // packet identifier 10
            0x09,                       // property length 9
            0x0B, 0x2A,                           // Subscription Identifier 42
            0x26, 0x00, 0x01, "k", 0x00, 0x01, "v", // User Property
            0x00, 0x03, "a/+",
            0x2D,                       // options 0010 1101: retain handling 2, retain as published, no local, QoS 1
            0x00, 0x0C, "$share/g/x/#",
            0x12),                      // options 0001 0010: retain handling 1, QoS 2
            new SubscribePacket
            {
                PacketId = 10,
                Properties = UserKv(new MqttProperties { SubscriptionIdentifiers = [42] }),
                Subscriptions =
                [
                    new("a/+", QualityOfService.AtLeastOnce, NoLocal: true, RetainAsPublished: true, RetainHandling.DoNotSend),
                    new("$share/g/x/#", QualityOfService.ExactlyOnce, RetainHandling: RetainHandling.SendOnNewSubscribe),
                ],
            }, true);

        add("v5 SUBACK", V5, Bytes(
            0x90, 0x0B,                 // SUBACK, remaining length 11
            0x00, 0x0A,
            0x05,                       // property length 5
            0x1F, 0x00, 0x02, "ok",     // Reason String
            0x01,                       // granted QoS 1
            0xA1,                       // subscription identifiers not supported
            0x87),                      // not authorized
            new SubAckPacket
            {
                PacketId = 10, Properties = new MqttProperties { ReasonString = "ok" },
                ReasonCodes = [ReasonCode.GrantedQoS1, ReasonCode.SubscriptionIdentifiersNotSupported, ReasonCode.NotAuthorized],
            }, true);

        add("v5 UNSUBSCRIBE", V5, Bytes(
            0xA2, 0x1D,                 // UNSUBSCRIBE, remaining length 29
            0x00, 0x0B,
            0x07,                       // property length 7
            0x26, 0x00, 0x01, "k", 0x00, 0x01, "v",
            0x00, 0x03, "a/+",
            0x00, 0x0C, "$share/g/x/#"),
            new UnsubscribePacket { PacketId = 11, Properties = UserKv(), Filters = ["a/+", "$share/g/x/#"] }, true);

        add("v5 UNSUBACK", V5, Bytes(
            0xB0, 0x0A,                 // UNSUBACK, remaining length 10
            0x00, 0x0B,
            0x05, 0x1F, 0x00, 0x02, "ok", // property length 5: Reason String
            0x00,                       // success
            0x11),                      // no subscription existed
            new UnsubAckPacket
            {
                PacketId = 11, Properties = new MqttProperties { ReasonString = "ok" },
                ReasonCodes = [ReasonCode.Success, ReasonCode.NoSubscriptionExisted],
            }, true);

        add("v5 UNSUBACK without properties", V5, Bytes(
            0xB0, 0x04, 0x00, 0x0B,
            0x00,                       // property length 0
            0x00),                      // success
            new UnsubAckPacket { PacketId = 11, ReasonCodes = [ReasonCode.Success] }, true);

        add("v5 PINGREQ", V5, Bytes(0xC0, 0x00), PingReqPacket.Instance, true);
        add("v5 PINGRESP", V5, Bytes(0xD0, 0x00), PingRespPacket.Instance, true);

        add("v5 DISCONNECT short form", V5, Bytes(
            0xE0, 0x00),                // no reason code: normal disconnection (section 3.14.2.1)
            new DisconnectPacket(), true);

        add("v5 DISCONNECT with will message", V5, Bytes(
            0xE0, 0x01,
            0x04),                      // disconnect with will message
            new DisconnectPacket { ReasonCode = ReasonCode.DisconnectWithWillMessage }, true);

        add("v5 DISCONNECT use another server", V5, Bytes(
            0xE0, 0x12,                 // DISCONNECT, remaining length 18
            0x9C,                       // use another server
            0x10,                       // property length 16
            0x11, 0x00, 0x00, 0x00, 0x00,         // Session Expiry Interval 0
            0x1C, 0x00, 0x02, "s2",               // Server Reference
            0x1F, 0x00, 0x03, "bye"),             // Reason String
            new DisconnectPacket
            {
                ReasonCode = ReasonCode.UseAnotherServer,
                Properties = new MqttProperties { SessionExpiryInterval = 0, ServerReference = "s2", ReasonString = "bye" },
            }, true);

        add("v5 AUTH short form", V5, Bytes(
            0xF0, 0x00),                // success, no properties (section 3.15.2.1)
            new AuthPacket(), true);

        add("v5 AUTH continue authentication", V5, Bytes(
            0xF0, 0x0F,                 // AUTH, remaining length 15
            0x18,                       // continue authentication
            0x0D,                       // property length 13
            0x15, 0x00, 0x05, "SCRAM",            // Authentication Method
            0x16, 0x00, 0x02, 0x01, 0x02),        // Authentication Data
            new AuthPacket
            {
                ReasonCode = ReasonCode.ContinueAuthentication,
                Properties = new MqttProperties { AuthenticationMethod = "SCRAM", AuthenticationData = [1, 2] },
            }, true);

        add("v5 AUTH re-authenticate empty properties", V5, Bytes(
            0xF0, 0x02,
            0x19,                       // re-authenticate
            0x00),                      // property length 0, which could be omitted
            new AuthPacket { ReasonCode = ReasonCode.ReAuthenticate }, false);
    }
}
