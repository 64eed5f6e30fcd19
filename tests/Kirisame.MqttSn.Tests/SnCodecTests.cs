using Kirisame.MqttSn.Codec;
using Kirisame.MqttSn.Gateway;

namespace Kirisame.MqttSn.Tests;

/// The MQTT-SN codec against hand-written bytes (MQTT-SN 1.2 §5): valid messages in both length forms, and
/// datagrams that must be refused without an exception.
public sealed class SnCodecTests
{
    public static TheoryData<string, string> Frames() => new()
    {
        { "0216", nameof(SnDecodeError.None) },                  // PINGREQ, one-byte length
        { "01000416", nameof(SnDecodeError.None) },              // PINGREQ, three-byte length
        { "", nameof(SnDecodeError.TooShort) },
        { "02", nameof(SnDecodeError.TooShort) },
        { "010004", nameof(SnDecodeError.TooShort) },            // long form cut in its header
        { "0016", nameof(SnDecodeError.BadLength) },             // 0 is not a length
        { "01000216", nameof(SnDecodeError.BadLength) },         // a long-form length below its own header
        { "0316", nameof(SnDecodeError.LengthMismatch) },        // says 3, is 2
        { "021600", nameof(SnDecodeError.LengthMismatch) },      // says 2, is 3
        { "01FFFF16", nameof(SnDecodeError.LengthMismatch) },    // claims 65,535 bytes
    };

    [Theory]
    [MemberData(nameof(Frames))]
    public void Frame_IsReadOrRefused(string hex, string expectedError)
    {
        var expected = Enum.Parse<SnDecodeError>(expectedError);
        var error = SnFrame.TryRead(Convert.FromHexString(hex), out var type, out var body);
        Assert.Equal(expected, error);
        if (expected == SnDecodeError.None)
            Assert.Equal((SnMessageType.PingReq, 0), (type, body.Length));
    }

    [Theory]
    [InlineData(0, 2)]
    [InlineData(248, 2)]   // 2 + 5 + 248 = 255, the most the one-byte length says
    [InlineData(249, 4)]   // 256: the three-byte form
    [InlineData(60_000, 4)]
    public void Writer_ChoosesTheLengthForm_AndTheReaderAgrees(int dataLength, int headerLength)
    {
        var message = SnWriter.Publish(SnFlags.Make(1), 1, 2, new byte[dataLength]);
        Assert.Equal(headerLength + 5 + dataLength, message.Length);
        Assert.Equal(headerLength, SnFrame.HeaderLengthOf(message));
        Assert.Equal(SnDecodeError.None, SnFrame.TryRead(message, out var type, out var body));
        Assert.Equal(SnMessageType.Publish, type);
        Assert.True(SnPublish.TryParse(body, out var publish));
        Assert.Equal((1, (ushort)1, (ushort)2, dataLength), (publish.Flags.QoS, publish.TopicId, publish.MsgId, publish.Data.Length));
    }

    [Fact]
    public void Connect_IsParsed()
    {
        // Flags (Will, CleanSession), ProtocolId 1, Duration 60, ClientId "s1".
        Assert.True(SnConnect.TryParse(Convert.FromHexString("0C01003C7331"), out var connect));
        Assert.Equal((true, true, (byte)1, (ushort)60, "s1"), (connect.Flags.Will, connect.Flags.CleanSession, connect.Protocol, connect.Duration, connect.ClientId));
    }

    [Theory]
    [InlineData("")]             // no flags
    [InlineData("0401")]         // no duration
    [InlineData("0401003CFF")]   // ClientId not UTF-8
    public void Connect_Malformed_IsRefused(string hex) => Assert.False(SnConnect.TryParse(Convert.FromHexString(hex), out _));

    [Theory]
    [InlineData("60", -1)]
    [InlineData("40", 2)]
    [InlineData("20", 1)]
    [InlineData("00", 0)]
    public void Flags_QoS_IncludesMinusOne(string hex, int qos)
    {
        var flags = new SnFlags(Convert.FromHexString(hex)[0]);
        Assert.Equal(qos, flags.QoS);
        Assert.Equal(flags.Value, SnFlags.Make(qos).Value);
    }

    [Theory]
    [InlineData("2000010002", true)]     // QoS 1, normal topic id 1, MsgId 2, no data
    [InlineData("230001000268", false)]  // TopicIdType 0b11 is reserved
    [InlineData("20000100", false)]      // MsgId cut short
    public void Publish_IsParsedOrRefused(string hex, bool valid) => Assert.Equal(valid, SnPublish.TryParse(Convert.FromHexString(hex), out _));

    [Theory]
    [InlineData("20000161", "a", 0)]
    [InlineData("2200016162", "ab", 2)]
    public void Subscribe_ByNameOrShortName_IsParsed(string hex, string name, byte topicIdType)
    {
        Assert.True(SnSubscribe.TryParse(Convert.FromHexString(hex), out var subscribe));
        Assert.Equal((name, (SnTopicIdType)topicIdType, (ushort)1), (subscribe.TopicName, subscribe.Flags.TopicIdType, subscribe.MsgId));
    }

    [Theory]
    [InlineData("220001616263")] // a short name of three bytes
    [InlineData("200001")]       // an empty name
    [InlineData("21000100")]     // a predefined id cut short
    public void Subscribe_Malformed_IsRefused(string hex) => Assert.False(SnSubscribe.TryParse(Convert.FromHexString(hex), out _));

    [Fact]
    public void DisconnectWithDuration_IsASleep()
    {
        Assert.True(SnDisconnect.TryParse(Convert.FromHexString("001E"), out var sleep));
        Assert.Equal((ushort)30, sleep.SleepDuration);
        Assert.True(SnDisconnect.TryParse([], out var plain));
        Assert.Null(plain.SleepDuration);
        Assert.False(SnDisconnect.TryParse([1], out _));
    }

    [Fact]
    public void TopicRegistry_IsBounded_AndGivesOneIdPerName()
    {
        var registry = new TopicRegistry(capacity: 2);
        Assert.True(registry.TryAdd("a", out var a));
        Assert.True(registry.TryAdd("a", out var again));
        Assert.Equal(a, again);
        Assert.True(registry.TryAdd("b", out var b));
        Assert.NotEqual(a, b);
        Assert.False(registry.TryAdd("c", out _));
        registry.Remove("a");
        Assert.True(registry.TryAdd("c", out _));
        Assert.Null(registry.NameOf(a));
    }
}
