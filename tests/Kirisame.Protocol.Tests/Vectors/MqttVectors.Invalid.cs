using static Kirisame.Protocol.Tests.Support.Wire;

namespace Kirisame.Protocol.Tests.Vectors;

/// Bytes that break one rule each. The reason code is the one the MQTT 5.0 text gives for the rule
/// (0x81 malformed, 0x82 protocol error, or a specific code); for 3.1/3.1.1 it is what a server logs.
// conformance: rows run by InvalidVectorTests.InvalidVector_IsRefusedWithItsRuleAndReasonCode
public static partial class MqttVectors
{
    private const ProtocolVersion V3 = ProtocolVersion.V310;
    private const ProtocolVersion V4 = ProtocolVersion.V311;
    private const ProtocolVersion V5 = ProtocolVersion.V500;
    private const ReasonCode Malformed = ReasonCode.MalformedPacket;
    private const ReasonCode ProtocolError = ReasonCode.ProtocolError;

    // The fixed part of a minimal CONNECT up to the connect flags, for vectors about the flags and payload.
    private static byte[] ConnectStart(ProtocolVersion version, int remainingLength, int flags) => version switch
    {
        V3 => Bytes(0x10, remainingLength, 0x00, 0x06, "MQIsdp", 0x03, flags),
        V4 => Bytes(0x10, remainingLength, 0x00, 0x04, "MQTT", 0x04, flags),
        _ => Bytes(0x10, remainingLength, 0x00, 0x04, "MQTT", 0x05, flags),
    };

    private static List<InvalidVector> BuildInvalid()
    {
        var list = new List<InvalidVector>();

        void Add(string name, ProtocolVersion version, byte[] bytes, DecodeError error, ReasonCode reason, string spec)
            => list.Add(new InvalidVector(name, version, bytes, error, reason, spec));

        // ------------------------------------------------------------ fixed header
        Add("Packet type 0 is reserved", V4, Bytes(0x00, 0x00), DecodeError.ReservedPacketType, Malformed, "section 2.1.2");
        Add("Packet type 15 before 5.0 is reserved", V4, Bytes(0xF0, 0x00), DecodeError.ReservedPacketType, Malformed, "3.1.1 section 2.2.1");
        Add("CONNECT with flag bit 0 set", V4, Bytes(0x11, 0x0D, 0x00, 0x04, "MQTT", 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01, "c"),
            DecodeError.InvalidFixedHeaderFlags, Malformed, "[MQTT-2.1.3-1]");
        Add("PUBACK with flag bit 0 set", V4, Bytes(0x41, 0x02, 0x00, 0x07), DecodeError.InvalidFixedHeaderFlags, Malformed, "[MQTT-2.1.3-1]");
        Add("PUBREL with flags 0000", V4, Bytes(0x60, 0x02, 0x00, 0x07), DecodeError.InvalidFixedHeaderFlags, Malformed, "[MQTT-3.6.1-1]");
        Add("PUBREL with flags 0011", V5, Bytes(0x63, 0x02, 0x00, 0x07), DecodeError.InvalidFixedHeaderFlags, Malformed, "[MQTT-3.6.1-1]");
        Add("SUBSCRIBE with flags 0000", V4, Bytes(0x80, 0x08, 0x00, 0x01, 0x00, 0x03, "a/b", 0x00), DecodeError.InvalidFixedHeaderFlags, Malformed, "[MQTT-3.8.1-1]");
        Add("UNSUBSCRIBE with flags 0000", V4, Bytes(0xA0, 0x07, 0x00, 0x01, 0x00, 0x03, "a/b"), DecodeError.InvalidFixedHeaderFlags, Malformed, "[MQTT-3.10.1-1]");
        Add("PINGREQ with flag bit 3 set", V4, Bytes(0xC8, 0x00), DecodeError.InvalidFixedHeaderFlags, Malformed, "[MQTT-2.1.3-1]");
        Add("DISCONNECT with flag bit 1 set", V5, Bytes(0xE2, 0x00), DecodeError.InvalidFixedHeaderFlags, Malformed, "[MQTT-2.1.3-1], [MQTT-3.14.1-1]");
        Add("AUTH with flag bit 0 set", V5, Bytes(0xF1, 0x00), DecodeError.InvalidFixedHeaderFlags, Malformed, "[MQTT-2.1.3-1], [MQTT-3.15.1-1]");
        Add("PUBLISH with QoS 3 (3.1.1)", V4, Bytes(0x36, 0x07, 0x00, 0x03, "a/b", 0x00, 0x01), DecodeError.InvalidQoS, Malformed, "[MQTT-3.3.1-4]");
        Add("PUBLISH with QoS 3 (5.0)", V5, Bytes(0x36, 0x08, 0x00, 0x03, "a/b", 0x00, 0x01, 0x00), DecodeError.InvalidQoS, Malformed, "[MQTT-3.3.1-4]");
        Add("PUBLISH with DUP at QoS 0", V4, Bytes(0x38, 0x07, 0x00, 0x03, "a/b", "hi"), DecodeError.InvalidFixedHeaderFlags, Malformed, "[MQTT-3.3.1-2]");
        Add("Remaining length with a fifth byte", V4, Bytes(0x30, 0x80, 0x80, 0x80, 0x80, 0x01), DecodeError.MalformedRemainingLength, Malformed, "section 1.5.5");
        Add("Remaining length 0 in two bytes", V4, Bytes(0xC0, 0x80, 0x00), DecodeError.MalformedRemainingLength, Malformed, "[MQTT-1.5.5-1]");
        Add("Remaining length 2 in two bytes", V4, Bytes(0x40, 0x82, 0x00, 0x00, 0x07), DecodeError.MalformedRemainingLength, Malformed, "[MQTT-1.5.5-1]");

        // ------------------------------------------------------------ packet identifiers (section 2.2.1)
        Add("PUBLISH QoS 1 with packet identifier 0", V4, Bytes(0x32, 0x07, 0x00, 0x03, "a/b", 0x00, 0x00), DecodeError.PacketIdentifierZero, ProtocolError, "section 2.2.1 (a client's duty; this is the receiver's check)");
        Add("PUBLISH QoS 2 with packet identifier 0 (5.0)", V5, Bytes(0x34, 0x08, 0x00, 0x03, "a/b", 0x00, 0x00, 0x00), DecodeError.PacketIdentifierZero, ProtocolError, "section 2.2.1 (a client's duty; this is the receiver's check)");
        Add("SUBSCRIBE with packet identifier 0", V4, Bytes(0x82, 0x08, 0x00, 0x00, 0x00, 0x03, "a/b", 0x00), DecodeError.PacketIdentifierZero, ProtocolError, "section 2.2.1 (a client's duty; this is the receiver's check)");
        Add("UNSUBSCRIBE with packet identifier 0", V4, Bytes(0xA2, 0x07, 0x00, 0x00, 0x00, 0x03, "a/b"), DecodeError.PacketIdentifierZero, ProtocolError, "section 2.2.1 (a client's duty; this is the receiver's check)");
        Add("PUBACK with packet identifier 0", V4, Bytes(0x40, 0x02, 0x00, 0x00), DecodeError.PacketIdentifierZero, ProtocolError, "section 2.2.1");
        Add("PUBREC with packet identifier 0", V4, Bytes(0x50, 0x02, 0x00, 0x00), DecodeError.PacketIdentifierZero, ProtocolError, "section 2.2.1");
        Add("PUBREL with packet identifier 0", V4, Bytes(0x62, 0x02, 0x00, 0x00), DecodeError.PacketIdentifierZero, ProtocolError, "section 2.2.1");
        Add("PUBCOMP with packet identifier 0", V4, Bytes(0x70, 0x02, 0x00, 0x00), DecodeError.PacketIdentifierZero, ProtocolError, "section 2.2.1");
        Add("PUBACK with packet identifier 0 and reason code", V5, Bytes(0x40, 0x03, 0x00, 0x00, 0x10), DecodeError.PacketIdentifierZero, ProtocolError, "section 2.2.1");
        Add("SUBACK with packet identifier 0", V4, Bytes(0x90, 0x03, 0x00, 0x00, 0x00), DecodeError.PacketIdentifierZero, ProtocolError, "section 2.2.1");
        Add("UNSUBACK with packet identifier 0", V4, Bytes(0xB0, 0x02, 0x00, 0x00), DecodeError.PacketIdentifierZero, ProtocolError, "section 2.2.1");

        // ------------------------------------------------------------ UTF-8 strings [MQTT-1.5.4-1], [MQTT-1.5.4-2]
        Add("Topic with byte FF", V4, Bytes(0x30, 0x04, 0x00, 0x02, "a", 0xFF), DecodeError.InvalidUtf8, Malformed, "[MQTT-1.5.4-1], [MQTT-3.3.2-1]");
        Add("Topic with a lone continuation byte", V4, Bytes(0x30, 0x03, 0x00, 0x01, 0x80), DecodeError.InvalidUtf8, Malformed, "[MQTT-1.5.4-1]");
        Add("Topic with a cut three-byte sequence", V4, Bytes(0x30, 0x04, 0x00, 0x02, 0xE6, 0x97), DecodeError.InvalidUtf8, Malformed, "[MQTT-1.5.4-1]");
        Add("Topic with overlong two-byte '/'", V4, Bytes(0x30, 0x04, 0x00, 0x02, 0xC0, 0xAF), DecodeError.InvalidUtf8, Malformed, "[MQTT-1.5.4-1]");
        Add("Topic with overlong three-byte '/'", V4, Bytes(0x30, 0x05, 0x00, 0x03, 0xE0, 0x80, 0xAF), DecodeError.InvalidUtf8, Malformed, "[MQTT-1.5.4-1]");
        Add("Topic with overlong U+0000 (C0 80)", V4, Bytes(0x30, 0x04, 0x00, 0x02, 0xC0, 0x80), DecodeError.InvalidUtf8, Malformed, "[MQTT-1.5.4-1]");
        Add("Topic with encoded surrogate U+D800", V4, Bytes(0x30, 0x05, 0x00, 0x03, 0xED, 0xA0, 0x80), DecodeError.InvalidUtf8, Malformed, "[MQTT-1.5.4-1]");
        Add("Topic with encoded surrogate U+DFFF", V5, Bytes(0x30, 0x06, 0x00, 0x03, 0xED, 0xBF, 0xBF, 0x00), DecodeError.InvalidUtf8, Malformed, "[MQTT-1.5.4-1]");
        Add("Topic with code point above U+10FFFF", V4, Bytes(0x30, 0x06, 0x00, 0x04, 0xF4, 0x90, 0x80, 0x80), DecodeError.InvalidUtf8, Malformed, "[MQTT-1.5.4-1]");
        Add("Topic with U+0000", V4, Bytes(0x30, 0x04, 0x00, 0x02, "a", 0x00), DecodeError.NullCharacterInString, Malformed, "[MQTT-1.5.4-2], [MQTT-4.7.3-2]");
        Add("Topic filter with U+0000", V4, Bytes(0x82, 0x07, 0x00, 0x01, 0x00, 0x02, "a", 0x00, 0x00), DecodeError.NullCharacterInString, Malformed, "[MQTT-4.7.3-2]");
        Add("Client identifier with U+0000", V4, Bytes(ConnectStart(V4, 0x0D, 0x02), 0x00, 0x3C, 0x00, 0x01, 0x00), DecodeError.NullCharacterInString, Malformed, "[MQTT-1.5.4-2]");
        Add("User name with byte FF", V4, Bytes(ConnectStart(V4, 0x10, 0x82), 0x00, 0x3C, 0x00, 0x01, "c", 0x00, 0x01, 0xFF), DecodeError.InvalidUtf8, Malformed, "[MQTT-1.5.4-1]");
        Add("Topic filter with byte FF", V4, Bytes(0x82, 0x07, 0x00, 0x01, 0x00, 0x02, 0xFF, 0xFF, 0x00), DecodeError.InvalidUtf8, Malformed, "[MQTT-1.5.4-1]");
        Add("Reason String with byte FF", V5, Bytes(0x40, 0x08, 0x00, 0x07, 0x80, 0x04, 0x1F, 0x00, 0x01, 0xFF), DecodeError.InvalidUtf8, Malformed, "[MQTT-1.5.4-1]");
        Add("User Property value with U+0000", V5, Bytes(0x30, 0x0B, 0x00, 0x01, "t", 0x07, 0x26, 0x00, 0x01, "k", 0x00, 0x01, 0x00), DecodeError.NullCharacterInString, Malformed, "[MQTT-1.5.4-2], [MQTT-1.5.7-1]");
        Add("User Property name with byte FF", V5, Bytes(0x30, 0x0B, 0x00, 0x01, "t", 0x07, 0x26, 0x00, 0x01, 0xFF, 0x00, 0x01, "v"), DecodeError.InvalidUtf8, Malformed, "[MQTT-1.5.7-1]");
        Add("Response Topic with byte FF", V5, Bytes(0x30, 0x08, 0x00, 0x01, "t", 0x04, 0x08, 0x00, 0x01, 0xFF), DecodeError.InvalidUtf8, Malformed, "[MQTT-3.3.2-13]");
        Add("Content Type with byte FF", V5, Bytes(0x30, 0x08, 0x00, 0x01, "t", 0x04, 0x03, 0x00, 0x01, 0xFF), DecodeError.InvalidUtf8, Malformed, "[MQTT-3.3.2-19]");

        // ------------------------------------------------------------ properties (5.0 section 2.2.2)
        Add("PUBLISH with Payload Format Indicator twice", V5, Bytes(0x30, 0x08, 0x00, 0x01, "t", 0x04, 0x01, 0x00, 0x01, 0x00), DecodeError.DuplicateProperty, ProtocolError, "section 3.3.2.3.2");
        Add("SUBSCRIBE with Subscription Identifier twice", V5, Bytes(0x82, 0x0D, 0x00, 0x01, 0x04, 0x0B, 0x01, 0x0B, 0x02, 0x00, 0x03, "a/b", 0x00), DecodeError.DuplicateProperty, ProtocolError, "section 3.8.2.1.2");
        Add("CONNECT with Session Expiry Interval twice", V5, Bytes(ConnectStart(V5, 0x18, 0x02), 0x00, 0x3C, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x01, 0x11, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, "c"),
            DecodeError.DuplicateProperty, ProtocolError, "section 3.1.2.11.2");
        Add("PUBLISH with Session Expiry Interval", V5, Bytes(0x30, 0x09, 0x00, 0x01, "t", 0x05, 0x11, 0x00, 0x00, 0x00, 0x01), DecodeError.PropertyNotAllowed, Malformed, "section 2.2.2.2");
        Add("CONNECT with Will Delay Interval outside the will", V5, Bytes(ConnectStart(V5, 0x13, 0x02), 0x00, 0x3C, 0x05, 0x18, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, "c"),
            DecodeError.PropertyNotAllowed, Malformed, "section 2.2.2.2");
        Add("Will properties with Session Expiry Interval", V5, Bytes(ConnectStart(V5, 0x19, 0x06), 0x00, 0x3C, 0x00, 0x00, 0x01, "c", 0x05, 0x11, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, "t", 0x00, 0x00),
            DecodeError.PropertyNotAllowed, Malformed, "section 2.2.2.2");
        Add("SUBSCRIBE with Topic Alias", V5, Bytes(0x82, 0x0C, 0x00, 0x01, 0x03, 0x23, 0x00, 0x01, 0x00, 0x03, "a/b", 0x00), DecodeError.PropertyNotAllowed, Malformed, "section 2.2.2.2");
        Add("PUBACK with Server Reference", V5, Bytes(0x40, 0x09, 0x00, 0x07, 0x00, 0x05, 0x1C, 0x00, 0x02, "sv"), DecodeError.PropertyNotAllowed, Malformed, "section 2.2.2.2");
        Add("PUBLISH with unknown property 0x04", V5, Bytes(0x30, 0x06, 0x00, 0x01, "t", 0x02, 0x04, 0x00), DecodeError.UnknownProperty, Malformed, "section 2.2.2.2");
        Add("DISCONNECT with property identifier 0", V5, Bytes(0xE0, 0x04, 0x00, 0x02, 0x00, 0x00), DecodeError.UnknownProperty, Malformed, "section 2.2.2.2");
        Add("PUBLISH with Topic Alias 0", V5, Bytes(0x30, 0x07, 0x00, 0x01, "t", 0x03, 0x23, 0x00, 0x00), DecodeError.TopicAliasZero, ReasonCode.TopicAliasInvalid, "[MQTT-3.3.2-8]");
        Add("SUBSCRIBE with Subscription Identifier 0", V5, Bytes(0x82, 0x0B, 0x00, 0x01, 0x02, 0x0B, 0x00, 0x00, 0x03, "a/b", 0x00), DecodeError.SubscriptionIdentifierZero, ProtocolError, "section 3.8.2.1.2");
        Add("PUBLISH with Subscription Identifier 0", V5, Bytes(0x30, 0x06, 0x00, 0x01, "t", 0x02, 0x0B, 0x00), DecodeError.SubscriptionIdentifierZero, ProtocolError, "section 3.3.2.3.8");
        Add("CONNECT with Receive Maximum 0", V5, Bytes(ConnectStart(V5, 0x11, 0x02), 0x00, 0x3C, 0x03, 0x21, 0x00, 0x00, 0x00, 0x01, "c"), DecodeError.InvalidPropertyValue, ProtocolError, "section 3.1.2.11.3");
        Add("CONNACK with Maximum QoS 2", V5, Bytes(0x20, 0x05, 0x00, 0x00, 0x02, 0x24, 0x02), DecodeError.InvalidPropertyValue, ProtocolError, "section 3.2.2.3.4");
        Add("PUBLISH with wildcard Response Topic", V5, Bytes(0x30, 0x09, 0x00, 0x01, "t", 0x05, 0x08, 0x00, 0x02, "a#"), DecodeError.InvalidPropertyValue, ProtocolError, "[MQTT-3.3.2-14]");
        Add("PUBLISH property length beyond the packet", V5, Bytes(0x30, 0x05, 0x00, 0x01, "t", 0x05, 0x01), DecodeError.MalformedProperties, Malformed, "section 2.2.2.1");
        Add("CONNECT property length beyond the packet", V5, Bytes(ConnectStart(V5, 0x0E, 0x02), 0x00, 0x3C, 0x7F, 0x00, 0x01, "c"), DecodeError.MalformedProperties, Malformed, "section 2.2.2.1");
        Add("PUBACK property length beyond the packet", V5, Bytes(0x40, 0x05, 0x00, 0x07, 0x00, 0x10, 0x1F), DecodeError.MalformedProperties, Malformed, "section 2.2.2.1");
        Add("PUBLISH property value cut short", V5, Bytes(0x30, 0x06, 0x00, 0x01, "t", 0x02, 0x02, 0x00), DecodeError.MalformedProperties, Malformed, "section 2.2.2.2");
        Add("PUBLISH property length 0 in two bytes", V5, Bytes(0x30, 0x06, 0x00, 0x01, "t", 0x80, 0x00, "x"), DecodeError.MalformedProperties, Malformed, "[MQTT-1.5.5-1]");
        Add("Subscription Identifier 0 in two bytes", V5, Bytes(0x30, 0x07, 0x00, 0x01, "t", 0x03, 0x0B, 0x80, 0x00), DecodeError.MalformedVariableByteInteger, Malformed, "[MQTT-1.5.5-1]");

        // ------------------------------------------------------------ topic names and filters (section 4.7)
        Add("PUBLISH topic with '+'", V4, Bytes(0x30, 0x05, 0x00, 0x03, "a/+"), DecodeError.WildcardInTopicName, ReasonCode.TopicNameInvalid, "[MQTT-3.3.2-2], [MQTT-4.7.0-1]");
        Add("PUBLISH topic '#'", V4, Bytes(0x30, 0x03, 0x00, 0x01, "#"), DecodeError.WildcardInTopicName, ReasonCode.TopicNameInvalid, "[MQTT-3.3.2-2], [MQTT-4.7.0-1]");
        Add("PUBLISH topic with '#' (5.0)", V5, Bytes(0x30, 0x06, 0x00, 0x03, "a/#", 0x00), DecodeError.WildcardInTopicName, ReasonCode.TopicNameInvalid, "[MQTT-3.3.2-2]");
        Add("Will topic with '#'", V4, Bytes(ConnectStart(V4, 0x14, 0x06), 0x00, 0x3C, 0x00, 0x01, "c", 0x00, 0x03, "a/#", 0x00, 0x00), DecodeError.WildcardInTopicName, ReasonCode.TopicNameInvalid, "section 3.1.3.3 (a client's duty; this is the receiver's check)");
        Add("PUBLISH empty topic (3.1.1)", V4, Bytes(0x30, 0x02, 0x00, 0x00), DecodeError.EmptyTopicName, ProtocolError, "[MQTT-4.7.3-1]");
        Add("PUBLISH empty topic without Topic Alias", V5, Bytes(0x30, 0x03, 0x00, 0x00, 0x00), DecodeError.EmptyTopicName, ProtocolError, "section 3.3.2.3.4");
        Add("Will topic empty", V4, Bytes(ConnectStart(V4, 0x11, 0x06), 0x00, 0x3C, 0x00, 0x01, "c", 0x00, 0x00, 0x00, 0x00), DecodeError.EmptyTopicName, ProtocolError, "[MQTT-4.7.3-1]");
        Add("Filter with '#' not last", V4, Bytes(0x82, 0x0A, 0x00, 0x01, 0x00, 0x05, "a/#/b", 0x00), DecodeError.InvalidTopicFilter, ReasonCode.TopicFilterInvalid, "[MQTT-4.7.1-1]");
        Add("Filter with '#' inside a level", V4, Bytes(0x82, 0x07, 0x00, 0x01, 0x00, 0x02, "a#", 0x00), DecodeError.InvalidTopicFilter, ReasonCode.TopicFilterInvalid, "[MQTT-4.7.1-1]");
        Add("Filter with '+' before text", V4, Bytes(0x82, 0x09, 0x00, 0x01, 0x00, 0x04, "+a/b", 0x00), DecodeError.InvalidTopicFilter, ReasonCode.TopicFilterInvalid, "[MQTT-4.7.1-2]");
        Add("Filter with '+' after text", V5, Bytes(0x82, 0x0A, 0x00, 0x01, 0x00, 0x00, 0x04, "a/b+", 0x00), DecodeError.InvalidTopicFilter, ReasonCode.TopicFilterInvalid, "[MQTT-4.7.1-2]");
        Add("UNSUBSCRIBE filter with '#' not last", V4, Bytes(0xA2, 0x09, 0x00, 0x01, 0x00, 0x05, "a/#/b"), DecodeError.InvalidTopicFilter, ReasonCode.TopicFilterInvalid, "[MQTT-4.7.1-1]");
        Add("SUBSCRIBE empty filter", V4, Bytes(0x82, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00), DecodeError.EmptyTopicFilter, ReasonCode.TopicFilterInvalid, "[MQTT-4.7.3-1]");
        Add("UNSUBSCRIBE empty filter", V5, Bytes(0xA2, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00), DecodeError.EmptyTopicFilter, ReasonCode.TopicFilterInvalid, "[MQTT-4.7.3-1]");
        Add("SUBSCRIBE without filters (3.1.1)", V4, Bytes(0x82, 0x02, 0x00, 0x01), DecodeError.NoTopicFilters, ProtocolError, "3.1.1 [MQTT-3.8.3-3]");
        Add("SUBSCRIBE without filters (5.0)", V5, Bytes(0x82, 0x03, 0x00, 0x01, 0x00), DecodeError.NoTopicFilters, ProtocolError, "section 3.8.3 (a client's duty; this is the receiver's check)");
        Add("UNSUBSCRIBE without filters (3.1.1)", V4, Bytes(0xA2, 0x02, 0x00, 0x01), DecodeError.NoTopicFilters, ProtocolError, "3.1.1 [MQTT-3.10.3-2]");
        Add("UNSUBSCRIBE without filters (5.0)", V5, Bytes(0xA2, 0x03, 0x00, 0x01, 0x00), DecodeError.NoTopicFilters, ProtocolError, "section 3.10.3 (a client's duty; this is the receiver's check)");

        // ------------------------------------------------------------ shared subscriptions and options (section 4.8.2, 3.8.3.1)
        Add("Shared filter '$share//x'", V5, Bytes(0x82, 0x0F, 0x00, 0x01, 0x00, 0x00, 0x09, "$share//x", 0x00), DecodeError.InvalidSharedSubscription, ReasonCode.TopicFilterInvalid, "[MQTT-4.8.2-1]");
        Add("Shared filter '$share/g'", V5, Bytes(0x82, 0x0E, 0x00, 0x01, 0x00, 0x00, 0x08, "$share/g", 0x00), DecodeError.InvalidSharedSubscription, ReasonCode.TopicFilterInvalid, "[MQTT-4.8.2-2]");
        Add("Shared filter '$share/g/'", V5, Bytes(0x82, 0x0F, 0x00, 0x01, 0x00, 0x00, 0x09, "$share/g/", 0x00), DecodeError.InvalidSharedSubscription, ReasonCode.TopicFilterInvalid, "[MQTT-4.8.2-2]");
        Add("Shared filter '$share/a+b/x'", V5, Bytes(0x82, 0x12, 0x00, 0x01, 0x00, 0x00, 0x0C, "$share/a+b/x", 0x00), DecodeError.InvalidSharedSubscription, ReasonCode.TopicFilterInvalid, "[MQTT-4.8.2-2]");
        Add("Shared filter '$share/a#b/x'", V5, Bytes(0x82, 0x12, 0x00, 0x01, 0x00, 0x00, 0x0C, "$share/a#b/x", 0x00), DecodeError.InvalidSharedSubscription, ReasonCode.TopicFilterInvalid, "[MQTT-4.8.2-2]");
        Add("UNSUBSCRIBE shared filter '$share/g'", V5, Bytes(0xA2, 0x0D, 0x00, 0x01, 0x00, 0x00, 0x08, "$share/g"), DecodeError.InvalidSharedSubscription, ReasonCode.TopicFilterInvalid, "[MQTT-4.8.2-2]");
        Add("No Local on a shared subscription", V5, Bytes(0x82, 0x12, 0x00, 0x01, 0x00, 0x00, 0x0C, "$share/g/x/#", 0x04), DecodeError.InvalidSubscriptionOptions, ProtocolError, "section 3.8.3.1 (a client's duty; this is the receiver's check)");
        Add("Subscription options bit 6 set", V5, Bytes(0x82, 0x09, 0x00, 0x01, 0x00, 0x00, 0x03, "a/b", 0x40), DecodeError.ReservedSubscriptionOptionBits, Malformed, "[MQTT-3.8.3-5]");
        Add("Subscription options bit 7 set", V5, Bytes(0x82, 0x09, 0x00, 0x01, 0x00, 0x00, 0x03, "a/b", 0x81), DecodeError.ReservedSubscriptionOptionBits, Malformed, "[MQTT-3.8.3-5]");
        Add("Subscription options bit 2 set (3.1.1)", V4, Bytes(0x82, 0x08, 0x00, 0x01, 0x00, 0x03, "a/b", 0x04), DecodeError.ReservedSubscriptionOptionBits, Malformed, "3.1.1 [MQTT-3-8.3-4]");
        Add("Retain Handling 3", V5, Bytes(0x82, 0x09, 0x00, 0x01, 0x00, 0x00, 0x03, "a/b", 0x30), DecodeError.InvalidSubscriptionOptions, ProtocolError, "section 3.8.3.1");
        Add("SUBSCRIBE Maximum QoS 3 (5.0)", V5, Bytes(0x82, 0x09, 0x00, 0x01, 0x00, 0x00, 0x03, "a/b", 0x03), DecodeError.InvalidSubscriptionOptions, ProtocolError, "section 3.8.3.1");
        Add("SUBSCRIBE requested QoS 3 (3.1.1)", V4, Bytes(0x82, 0x08, 0x00, 0x01, 0x00, 0x03, "a/b", 0x03), DecodeError.InvalidQoS, Malformed, "3.1.1 [MQTT-3-8.3-4]");
        Add("SUBSCRIBE filter without options byte", V4, Bytes(0x82, 0x07, 0x00, 0x01, 0x00, 0x03, "a/b"), DecodeError.Truncated, Malformed, "section 3.8.3");

        // ------------------------------------------------------------ CONNECT (section 3.1.2)
        Add("CONNECT reserved flag set", V4, Bytes(ConnectStart(V4, 0x0D, 0x03), 0x00, 0x3C, 0x00, 0x01, "c"), DecodeError.ConnectReservedFlag, Malformed, "[MQTT-3.1.2-3]");
        Add("CONNECT reserved flag set (5.0)", V5, Bytes(ConnectStart(V5, 0x0E, 0x03), 0x00, 0x3C, 0x00, 0x00, 0x01, "c"), DecodeError.ConnectReservedFlag, Malformed, "[MQTT-3.1.2-3]");
        Add("Will QoS 1 without will flag (3.1.1)", V4, Bytes(ConnectStart(V4, 0x0D, 0x0A), 0x00, 0x3C, 0x00, 0x01, "c"), DecodeError.InvalidWillFlags, Malformed, "3.1.1 [MQTT-3.1.2-13]");
        Add("Will QoS 2 without will flag (5.0)", V5, Bytes(ConnectStart(V5, 0x0E, 0x12), 0x00, 0x3C, 0x00, 0x00, 0x01, "c"), DecodeError.InvalidWillFlags, Malformed, "section 3.1.2.6 (a client's duty; this is the receiver's check)");
        Add("Will retain without will flag (3.1.1)", V4, Bytes(ConnectStart(V4, 0x0D, 0x22), 0x00, 0x3C, 0x00, 0x01, "c"), DecodeError.InvalidWillFlags, Malformed, "3.1.1 [MQTT-3.1.2-15]");
        Add("Will retain without will flag (5.0)", V5, Bytes(ConnectStart(V5, 0x0E, 0x22), 0x00, 0x3C, 0x00, 0x00, 0x01, "c"), DecodeError.InvalidWillFlags, Malformed, "section 3.1.2.7 (a client's duty; this is the receiver's check)");
        Add("Will QoS 3 (3.1.1)", V4, Bytes(ConnectStart(V4, 0x12, 0x1E), 0x00, 0x3C, 0x00, 0x01, "c", 0x00, 0x01, "t", 0x00, 0x00), DecodeError.InvalidWillFlags, Malformed, "3.1.1 [MQTT-3.1.2-14]");
        Add("Will QoS 3 (5.0)", V5, Bytes(ConnectStart(V5, 0x14, 0x1E), 0x00, 0x3C, 0x00, 0x00, 0x01, "c", 0x00, 0x00, 0x01, "t", 0x00, 0x00), DecodeError.InvalidWillFlags, Malformed, "section 3.1.2.6");
        Add("Protocol name 'MQTX'", V4, Bytes(0x10, 0x0D, 0x00, 0x04, "MQTX", 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01, "c"), DecodeError.UnknownProtocolName, ReasonCode.UnsupportedProtocolVersion, "[MQTT-3.1.2-1]");
        Add("Protocol name 'mqtt' in lower case", V5, Bytes(0x10, 0x0E, 0x00, 0x04, "mqtt", 0x05, 0x02, 0x00, 0x3C, 0x00, 0x00, 0x01, "c"), DecodeError.UnknownProtocolName, ReasonCode.UnsupportedProtocolVersion, "[MQTT-3.1.2-1]");
        Add("Protocol level 6", V5, Bytes(0x10, 0x0E, 0x00, 0x04, "MQTT", 0x06, 0x02, 0x00, 0x3C, 0x00, 0x00, 0x01, "c"), DecodeError.UnsupportedProtocolVersion, ReasonCode.UnsupportedProtocolVersion, "[MQTT-3.1.2-2]");
        Add("Protocol level 3 with name 'MQTT'", V4, Bytes(0x10, 0x0D, 0x00, 0x04, "MQTT", 0x03, 0x02, 0x00, 0x3C, 0x00, 0x01, "c"), DecodeError.UnsupportedProtocolVersion, ReasonCode.UnsupportedProtocolVersion, "[MQTT-3.1.2-2]");
        Add("Protocol level 4 with name 'MQIsdp'", V3, Bytes(0x10, 0x0F, 0x00, 0x06, "MQIsdp", 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01, "c"), DecodeError.UnsupportedProtocolVersion, ReasonCode.UnsupportedProtocolVersion, "[MQTT-3.1.2-2]");
        Add("Password without user name (3.1.1)", V4, Bytes(ConnectStart(V4, 0x11, 0x42), 0x00, 0x3C, 0x00, 0x01, "c", 0x00, 0x02, "pw"), DecodeError.PasswordWithoutUserName, Malformed, "3.1.1 [MQTT-3.1.2-22]");
        Add("Password without user name (3.1)", V3, Bytes(ConnectStart(V3, 0x13, 0x42), 0x00, 0x3C, 0x00, 0x01, "c", 0x00, 0x02, "pw"), DecodeError.PasswordWithoutUserName, Malformed, "3.1 section 3.1");
        Add("Will payload declared UTF-8 but not", V5, Bytes(ConnectStart(V5, 0x17, 0x06), 0x00, 0x3C, 0x00, 0x00, 0x01, "c", 0x02, 0x01, 0x01, 0x00, 0x01, "t", 0x00, 0x01, 0xFF),
            DecodeError.PayloadFormatInvalid, ReasonCode.PayloadFormatInvalid, "section 3.1.3.2.3");
        Add("CONNECT with trailing byte", V4, Bytes(ConnectStart(V4, 0x0E, 0x02), 0x00, 0x3C, 0x00, 0x01, "c", 0x00), DecodeError.TrailingBytes, Malformed, "section 2.1.4");
        Add("CONNECT cut before keep alive", V4, Bytes(ConnectStart(V4, 0x08, 0x02)), DecodeError.Truncated, Malformed, "section 3.1.2");
        Add("Will payload length beyond the packet", V4, Bytes(ConnectStart(V4, 0x14, 0x06), 0x00, 0x3C, 0x00, 0x01, "c", 0x00, 0x01, "t", 0x00, 0x09, "ab"), DecodeError.Truncated, Malformed, "section 3.1.3.3");

        // ------------------------------------------------------------ bodies that must be empty or exact
        Add("PINGREQ with a body byte", V4, Bytes(0xC0, 0x01, 0x00), DecodeError.TrailingBytes, Malformed, "section 3.12");
        Add("PINGRESP with a body byte", V5, Bytes(0xD0, 0x01, 0x00), DecodeError.TrailingBytes, Malformed, "section 3.13");
        Add("DISCONNECT with a body byte (3.1.1)", V4, Bytes(0xE0, 0x01, 0x00), DecodeError.TrailingBytes, Malformed, "3.1.1 section 3.14");
        Add("DISCONNECT with a body (3.1)", V3, Bytes(0xE0, 0x02, 0x00, 0x00), DecodeError.TrailingBytes, Malformed, "3.1 section 3.14");
        Add("PUBACK with a reason code in 3.1.1", V4, Bytes(0x40, 0x03, 0x00, 0x07, 0x00), DecodeError.TrailingBytes, Malformed, "3.1.1 section 3.4");
        Add("UNSUBACK with a payload in 3.1.1", V4, Bytes(0xB0, 0x03, 0x00, 0x0B, 0x00), DecodeError.TrailingBytes, Malformed, "3.1.1 section 3.11");
        Add("PUBLISH QoS 1 cut before the packet identifier", V4, Bytes(0x32, 0x05, 0x00, 0x03, "a/b"), DecodeError.Truncated, Malformed, "section 3.3.2");
        Add("CONNACK reserved acknowledge flag set", V4, Bytes(0x20, 0x02, 0x02, 0x00), DecodeError.InvalidFixedHeaderFlags, Malformed, "[MQTT-3.2.2-1]");
        Add("SUBACK without return codes", V4, Bytes(0x90, 0x02, 0x00, 0x0A), DecodeError.EmptySubAck, Malformed, "section 3.9.3");

        // ------------------------------------------------------------ reason codes a packet may not carry
        Add("PUBACK reason code 0x05", V5, Bytes(0x40, 0x03, 0x00, 0x07, 0x05), DecodeError.InvalidReasonCode, ProtocolError, "[MQTT-3.4.2-1]");
        Add("PUBREC reason code 0x92", V5, Bytes(0x50, 0x03, 0x00, 0x07, 0x92), DecodeError.InvalidReasonCode, ProtocolError, "[MQTT-3.5.2-1]");
        Add("PUBREL reason code 0x10", V5, Bytes(0x62, 0x03, 0x00, 0x07, 0x10), DecodeError.InvalidReasonCode, ProtocolError, "[MQTT-3.6.2-1]");
        Add("PUBCOMP reason code 0x80", V5, Bytes(0x70, 0x03, 0x00, 0x07, 0x80), DecodeError.InvalidReasonCode, ProtocolError, "[MQTT-3.7.2-1]");
        Add("SUBACK reason code 0x03", V5, Bytes(0x90, 0x04, 0x00, 0x0A, 0x00, 0x03), DecodeError.InvalidReasonCode, ProtocolError, "[MQTT-3.9.3-2]");
        Add("SUBACK return code 0x03 (3.1.1)", V4, Bytes(0x90, 0x03, 0x00, 0x0A, 0x03), DecodeError.InvalidReasonCode, ProtocolError, "3.1.1 section 3.9.3");
        Add("UNSUBACK reason code 0x10", V5, Bytes(0xB0, 0x04, 0x00, 0x0B, 0x00, 0x10), DecodeError.InvalidReasonCode, ProtocolError, "[MQTT-3.11.3-2]");
        Add("CONNACK reason code 0x01", V5, Bytes(0x20, 0x03, 0x00, 0x01, 0x00), DecodeError.InvalidReasonCode, ProtocolError, "[MQTT-3.2.2-8]");
        Add("CONNACK return code 6 (3.1.1)", V4, Bytes(0x20, 0x02, 0x00, 0x06), DecodeError.InvalidReasonCode, ProtocolError, "3.1.1 section 3.2.2.3");
        Add("DISCONNECT reason code 0x01", V5, Bytes(0xE0, 0x01, 0x01), DecodeError.InvalidReasonCode, ProtocolError, "[MQTT-3.14.2-1]");
        Add("AUTH reason code 0x87", V5, Bytes(0xF0, 0x01, 0x87), DecodeError.InvalidReasonCode, ProtocolError, "[MQTT-3.15.2-1]");

        return list;
    }
}
