using System.Text;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Primitives;
using Kirisame.Protocol.Properties;
using Kirisame.Protocol.Tests.Support;

namespace Kirisame.Protocol.Tests;

/// Cutting text to fit a string field (65,535 UTF-8 bytes) or a log line, never inside a character.
public class MqttTextTests
{
    [Theory]
    [InlineData("a", 70_000)] // 1 byte each
    [InlineData("é", 40_000)] // 2 bytes each
    [InlineData("€", 30_000)] // 3 bytes each
    [InlineData("😀", 20_000)] // 4 bytes each, a surrogate pair in UTF-16
    public void Truncate_FitsAStringField_CutBetweenCharacters(string unit, int count)
    {
        var value = string.Concat(Enumerable.Repeat(unit, count));
        var cut = MqttText.Truncate(value);
        var bytes = Encoding.UTF8.GetByteCount(cut);
        Assert.InRange(bytes, MqttText.MaxStringBytes - 6, MqttText.MaxStringBytes);
        Assert.EndsWith("…", cut, StringComparison.Ordinal);
        Assert.StartsWith(cut[..^1], value, StringComparison.Ordinal);
        Assert.DoesNotContain('\uFFFD', Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(cut))); // no half pair
    }

    [Fact]
    public void Truncate_LeavesWhatFits_AsItIs()
    {
        var value = new string('x', MqttText.MaxStringBytes);
        Assert.Same(value, MqttText.Truncate(value));
        Assert.Equal("ab…", MqttText.Truncate("abcdef", 5));
    }

    [Fact]
    public void Quote_KeepsAPrefix_AndSaysHowLongTheWholeWas()
    {
        Assert.Equal("short", MqttText.Quote("short"));
        Assert.Equal("", MqttText.Quote(null));
        Assert.Equal("aaaa… (65535 characters)", MqttText.Quote(new string('a', 65_535), 4));
        Assert.Equal("aaa… (5 characters)", MqttText.Quote("aaa😀", 4)); // not between the halves of a pair
    }

    [Fact]
    public void AReasonStringQuotingA64KiBText_StillEncodes()
    {
        var connAck = new ConnAckPacket
        {
            ReasonCode = ReasonCode.BadUserNameOrPassword,
            Properties = new MqttProperties { ReasonString = "authentication of user '" + new string('u', 65_535) + "'" },
        };
        var bytes = MqttEncoder.Encode(connAck, ProtocolVersion.V500);
        var decoded = Assert.IsType<ConnAckPacket>(Frames.DecodeOne(bytes, ProtocolVersion.V500));
        Assert.Equal(MqttText.MaxStringBytes, Encoding.UTF8.GetByteCount(decoded.Properties!.ReasonString!));
    }
}
