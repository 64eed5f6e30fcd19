using System.Buffers;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Tests.Support;
using Kirisame.Protocol.Tests.Vectors;

namespace Kirisame.Protocol.Tests;

/// Every invalid vector is refused with its rule and the reason code the specification gives, however the
/// bytes arrive, and without an exception.
public class InvalidVectorTests
{
    public static TheoryData<string> Names => [.. MqttVectors.Invalid.Select(v => v.Name)];

    [Theory]
    [MemberData(nameof(Names))]
    public void InvalidVector_IsRefusedWithItsRuleAndReasonCode(string name)
    {
        var v = MqttVectors.GetInvalid(name);
        var error = Frames.ErrorOf(new ReadOnlySequence<byte>(v.Bytes), v.Version, out var status);
        Assert.NotEqual(FrameStatus.NeedMoreData, status);
        Assert.Equal(v.Error, error);
        Assert.Equal(v.Reason, DecodeErrors.ToReasonCode(error));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void InvalidVector_SplitAtEveryOffset_IsRefusedTheSameWay(string name)
    {
        var v = MqttVectors.GetInvalid(name);
        for (var offset = 0; offset <= v.Bytes.Length; offset++)
            Assert.Equal(v.Error, Frames.ErrorOf(Segments.SplitAt(v.Bytes, offset), v.Version, out _));
        Assert.Equal(v.Error, Frames.ErrorOf(Segments.OneBytePerSegment(v.Bytes), v.Version, out _));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void InvalidConnectVector_IsRefusedByDecodeConnectToo(string name)
    {
        var v = MqttVectors.GetInvalid(name);
        if (v.Bytes[0] != 0x10)
            return;
        Assert.Equal(v.Error, MqttDecoder.DecodeConnect(v.Bytes.AsSpan(2), out var connect));
        Assert.Null(connect);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void InvalidPublishVector_IsRefusedByDecodePublishToo(string name)
    {
        var v = MqttVectors.GetInvalid(name);
        var status = MqttFraming.TryReadHeader(new ReadOnlySequence<byte>(v.Bytes), Frames.NoLimit, out var header, out _);
        if (status != FrameStatus.Complete || header.Type != PacketType.Publish)
            return;
        var raw = new RawPacket(header.Type, header.Flags, v.Bytes.AsMemory(header.HeaderLength), header.TotalLength);
        Assert.Equal(v.Error, MqttDecoder.DecodePublish(raw, v.Version, out _));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void InvalidAckVector_IsRefusedByTheAllocationFreeReaderToo(string name)
    {
        var v = MqttVectors.GetInvalid(name);
        var status = MqttFraming.TryReadHeader(new ReadOnlySequence<byte>(v.Bytes), Frames.NoLimit, out var header, out _);
        if (status != FrameStatus.Complete || header.Type is not (PacketType.PubAck or PacketType.PubRec or PacketType.PubRel or PacketType.PubComp))
            return;
        var raw = new RawPacket(header.Type, header.Flags, v.Bytes.AsMemory(header.HeaderLength), header.TotalLength);
        Assert.Equal(v.Error, MqttDecoder.DecodePublishAck(raw, v.Version, out _, out _));
    }

    /// A rule without a vector is a rule nobody has seen fail. PacketTooLarge depends on the configured limit
    /// and has its own tests (HostileLengthTests).
    [Fact]
    public void EveryDecodeError_HasAnInvalidVector()
    {
        var covered = MqttVectors.Invalid.Select(v => v.Error).ToHashSet();
        // TopicAliasOutOfRange depends on the receiver's Topic Alias Maximum, so the broker raises it, not the codec.
        var missing = Enum.GetValues<DecodeError>().Where(e => e is not (DecodeError.None or DecodeError.PacketTooLarge or DecodeError.TopicAliasOutOfRange) && !covered.Contains(e));
        Assert.Empty(missing);
    }

    [Fact]
    public void EveryDecodeError_MapsToAnErrorReasonCode()
    {
        foreach (var error in Enum.GetValues<DecodeError>().Where(e => e != DecodeError.None))
            Assert.True(ReasonCodes.IsError(DecodeErrors.ToReasonCode(error)), $"{error} maps to a success code.");
    }

    // [MQTT-3.1.2-2]: a server refusing a level answers in that level's CONNACK format, so it must learn the level
    // of a CONNECT it cannot decode.
    [Theory]
    [InlineData("Protocol level 6", 6)]
    [InlineData("Protocol level 3 with name 'MQTT'", 3)]
    [InlineData("Protocol level 4 with name 'MQIsdp'", 4)]
    [InlineData("Protocol name 'MQTX'", 4)]
    public void PeekProtocolLevel_ReportsTheLevelOfARefusedConnect(string name, byte level)
    {
        var v = MqttVectors.GetInvalid(name);
        Assert.Equal(level, MqttDecoder.PeekProtocolLevel(v.Bytes.AsSpan(2)));
        Assert.Equal(ReasonCode.UnsupportedProtocolVersion, DecodeErrors.ToReasonCode(v.Error));
        // 3.1.1 has no 0x84: its CONNACK says return code 0x01 [MQTT-3.1.2-2].
        Assert.Equal(ConnectReturnCode.UnacceptableProtocolVersion, ReasonCodes.ToConnectReturnCode(DecodeErrors.ToReasonCode(v.Error)));
    }

    [Theory]
    [InlineData("v3.1 CONNECT minimal", 3)]
    [InlineData("v3.1.1 CONNECT minimal", 4)]
    [InlineData("v5 CONNECT minimal", 5)]
    public void PeekProtocolLevel_ReadsValidConnects(string name, byte level)
        => Assert.Equal(level, MqttDecoder.PeekProtocolLevel(MqttVectors.GetValid(name).Bytes.AsSpan(2)));

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 0x00 })]
    [InlineData(new byte[] { 0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T' })]
    [InlineData(new byte[] { 0xFF, 0xFF, 0x01 })]
    public void PeekProtocolLevel_OfACutBody_IsZero(byte[] body) => Assert.Equal(0, MqttDecoder.PeekProtocolLevel(body));
}
