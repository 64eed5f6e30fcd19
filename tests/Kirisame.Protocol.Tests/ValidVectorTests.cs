using System.Buffers;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;
using Kirisame.Protocol.Tests.Support;
using Kirisame.Protocol.Tests.Vectors;

namespace Kirisame.Protocol.Tests;

/// Every valid vector, run whole, with more data behind it, split at every offset, one byte per segment,
/// and cut short at every length.
public class ValidVectorTests
{
    public static TheoryData<string> Names => [.. MqttVectors.Valid.Select(v => v.Name)];

    public static TheoryData<string> CanonicalNames => [.. MqttVectors.Valid.Where(v => v.Canonical).Select(v => v.Name)];

    public static TheoryData<string> PublishNames => [.. MqttVectors.Valid.Where(v => v.Expected is PublishMessagePacket).Select(v => v.Name)];

    [Theory]
    [MemberData(nameof(Names))]
    public void Vector_DecodesWhole(string name)
    {
        var v = MqttVectors.GetValid(name);
        PacketAssert.Equal(v.Expected, Frames.DecodeOne(v.Bytes, v.Version));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Vector_FollowedByAnotherPacket_ConsumesOnlyItself(string name)
    {
        var v = MqttVectors.GetValid(name);
        byte[] buffer = [.. v.Bytes, 0xC0, 0x00, 0xFF];
        var packet = Frames.DecodeOne(new ReadOnlySequence<byte>(buffer), v.Version, v.Bytes.Length);
        PacketAssert.Equal(v.Expected, packet);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Vector_SplitAtEveryOffset_Decodes(string name)
    {
        var v = MqttVectors.GetValid(name);
        for (var offset = 0; offset <= v.Bytes.Length; offset++)
            PacketAssert.Equal(v.Expected, Frames.DecodeOne(Segments.SplitAt(v.Bytes, offset), v.Version, v.Bytes.Length));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Vector_OneBytePerSegment_Decodes(string name)
    {
        var v = MqttVectors.GetValid(name);
        PacketAssert.Equal(v.Expected, Frames.DecodeOne(Segments.OneBytePerSegment(v.Bytes), v.Version, v.Bytes.Length));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Vector_EveryProperPrefix_NeedsMoreDataAndConsumesNothing(string name)
    {
        var v = MqttVectors.GetValid(name);
        using var reader = new MqttFrameReader(Frames.NoLimit);
        for (var length = 0; length < v.Bytes.Length; length++)
        {
            foreach (var buffer in new[] { new ReadOnlySequence<byte>(v.Bytes, 0, length), Segments.OneBytePerSegment(v.Bytes[..length]) })
            {
                var status = reader.TryRead(buffer, out _, out var consumed, out var error);
                Assert.Equal(FrameStatus.NeedMoreData, status);
                Assert.Equal(DecodeError.None, error);
                Assert.Equal(buffer.Start, consumed);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Vector_HeaderReportsTypeAndRemainingLength(string name)
    {
        var v = MqttVectors.GetValid(name);
        var status = MqttFraming.TryReadHeader(new ReadOnlySequence<byte>(v.Bytes), Frames.NoLimit, out var header, out _);
        Assert.Equal(FrameStatus.Complete, status);
        Assert.Equal(v.Expected.Type, header.Type);
        Assert.Equal(v.Bytes.Length, header.TotalLength);
        Assert.Equal(v.Bytes.Length - header.HeaderLength, header.RemainingLength);
    }

    [Theory]
    [MemberData(nameof(CanonicalNames))]
    public void CanonicalVector_ReencodesToTheSameBytes(string name)
    {
        var v = MqttVectors.GetValid(name);
        var decoded = Frames.DecodeOne(v.Bytes, v.Version);
        Assert.Equal(Wire.Hex(v.Bytes), Wire.Hex(MqttEncoder.Encode(decoded, v.Version)));
        // The hand-built expected packet encodes to the hand-written bytes too.
        Assert.Equal(Wire.Hex(v.Bytes), Wire.Hex(MqttEncoder.Encode(v.Expected, v.Version)));
        Assert.Equal(v.Bytes.Length, MqttEncoder.GetSize(v.Expected, v.Version));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Vector_DecodeEncodeDecode_IsStable(string name)
    {
        var v = MqttVectors.GetValid(name);
        var first = Frames.DecodeOne(v.Bytes, v.Version);
        var bytes = MqttEncoder.Encode(first, v.Version);
        var second = Frames.DecodeOne(bytes, v.Version);
        PacketAssert.Equal(first, second);
        Assert.Equal(bytes, MqttEncoder.Encode(second, v.Version));
    }

    [Theory]
    [MemberData(nameof(PublishNames))]
    public void PublishVector_DecodesInPlaceWithDecodePublish(string name)
    {
        var v = MqttVectors.GetValid(name);
        var status = MqttFraming.TryReadHeader(new ReadOnlySequence<byte>(v.Bytes), Frames.NoLimit, out var header, out _);
        Assert.Equal(FrameStatus.Complete, status);
        var raw = new RawPacket(header.Type, header.Flags, v.Bytes.AsMemory(header.HeaderLength), header.TotalLength);
        Assert.Equal(DecodeError.None, MqttDecoder.DecodePublish(raw, v.Version, out var publish));
        PacketAssert.Publish(((PublishMessagePacket)v.Expected).Publish, publish);
        // Topic and payload are slices of the input, not copies.
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(publish.Payload, out var segment));
        Assert.Same(v.Bytes, segment.Array);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void AckVector_DecodesWithTheAllocationFreeReader(string name)
    {
        var v = MqttVectors.GetValid(name);
        if (v.Expected is not PublishAckPacket expected)
            return;
        var raw = new RawPacket(expected.Type, (byte)(v.Bytes[0] & 0x0F), v.Bytes.AsMemory(2), v.Bytes.Length);
        Assert.Equal(DecodeError.None, MqttDecoder.DecodePublishAck(raw, v.Version, out var packetId, out var reason));
        Assert.Equal(expected.PacketId, packetId);
        Assert.Equal(expected.ReasonCode, reason);
    }

    [Fact]
    public void VectorTable_NamesAreUnique()
    {
        var duplicates = MqttVectors.Valid.Select(v => v.Name).Concat(MqttVectors.Invalid.Select(v => v.Name))
            .GroupBy(n => n).Where(g => g.Count() > 1).Select(g => g.Key);
        Assert.Empty(duplicates);
    }

    [Theory]
    [InlineData(ProtocolVersion.V310)]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public void VectorTable_HasEveryPacketTypeOfEveryVersion(ProtocolVersion version)
    {
        var last = version == ProtocolVersion.V500 ? PacketType.Auth : PacketType.Disconnect;
        var covered = MqttVectors.Valid.Where(v => v.Version == version).Select(v => v.Expected.Type).ToHashSet();
        for (var type = PacketType.Connect; type <= last; type++)
            Assert.Contains(type, covered);
    }

    [Fact]
    public void VectorTable_CarriesEveryMqtt5Property()
    {
        var seen = new HashSet<PropertyId>();
        foreach (var v in MqttVectors.Valid.Where(v => v.Version == ProtocolVersion.V500))
        {
            // The expected packets are what the bytes decode to (Vector_DecodesWhole checks it).
            foreach (var properties in PropertiesOf(v.Expected))
            {
                foreach (var id in Enum.GetValues<PropertyId>())
                {
                    if (Has(properties, id))
                        seen.Add(id);
                }
            }
        }

        Assert.Equal(Enum.GetValues<PropertyId>().Order(), seen.Order());
    }

    private static IEnumerable<MqttProperties> PropertiesOf(MqttPacket packet)
    {
        var list = packet switch
        {
            ConnectPacket c => [c.Properties, c.Will?.Properties],
            ConnAckPacket c => [c.Properties],
            PublishMessagePacket p => [p.Publish.Properties.ToMqttProperties()],
            PublishAckPacket a => [a.Properties],
            SubscribePacket s => [s.Properties],
            SubAckPacket s => [s.Properties],
            UnsubscribePacket u => [u.Properties],
            UnsubAckPacket u => [u.Properties],
            DisconnectPacket d => [d.Properties],
            AuthPacket a => [a.Properties],
            _ => Array.Empty<MqttProperties?>(),
        };
        return list.OfType<MqttProperties>();
    }

    private static bool Has(MqttProperties p, PropertyId id) => id switch
    {
        PropertyId.PayloadFormatIndicator => p.PayloadFormatIndicator is not null,
        PropertyId.MessageExpiryInterval => p.MessageExpiryInterval is not null,
        PropertyId.ContentType => p.ContentType is not null,
        PropertyId.ResponseTopic => p.ResponseTopic is not null,
        PropertyId.CorrelationData => p.CorrelationData is not null,
        PropertyId.SubscriptionIdentifier => p.SubscriptionIdentifiers is { Count: > 0 },
        PropertyId.SessionExpiryInterval => p.SessionExpiryInterval is not null,
        PropertyId.AssignedClientIdentifier => p.AssignedClientIdentifier is not null,
        PropertyId.ServerKeepAlive => p.ServerKeepAlive is not null,
        PropertyId.AuthenticationMethod => p.AuthenticationMethod is not null,
        PropertyId.AuthenticationData => p.AuthenticationData is not null,
        PropertyId.RequestProblemInformation => p.RequestProblemInformation is not null,
        PropertyId.WillDelayInterval => p.WillDelayInterval is not null,
        PropertyId.RequestResponseInformation => p.RequestResponseInformation is not null,
        PropertyId.ResponseInformation => p.ResponseInformation is not null,
        PropertyId.ServerReference => p.ServerReference is not null,
        PropertyId.ReasonString => p.ReasonString is not null,
        PropertyId.ReceiveMaximum => p.ReceiveMaximum is not null,
        PropertyId.TopicAliasMaximum => p.TopicAliasMaximum is not null,
        PropertyId.TopicAlias => p.TopicAlias is not null,
        PropertyId.MaximumQoS => p.MaximumQoS is not null,
        PropertyId.RetainAvailable => p.RetainAvailable is not null,
        PropertyId.UserProperty => p.UserProperties is { Count: > 0 },
        PropertyId.MaximumPacketSize => p.MaximumPacketSize is not null,
        PropertyId.WildcardSubscriptionAvailable => p.WildcardSubscriptionAvailable is not null,
        PropertyId.SubscriptionIdentifierAvailable => p.SubscriptionIdentifierAvailable is not null,
        PropertyId.SharedSubscriptionAvailable => p.SharedSubscriptionAvailable is not null,
        _ => false,
    };
}
