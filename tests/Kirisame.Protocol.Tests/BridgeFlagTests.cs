using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Packets;

namespace Kirisame.Protocol.Tests;

/// Mosquitto's bridge flag (bit 7 of the protocol level, "try_private"): accepted on 3.1 and 3.1.1 levels and
/// reported, refused on MQTT 5's level as any unknown level is.
public sealed class BridgeFlagTests
{
    private static byte[] Connect(string name, byte level)
    {
        var body = new List<byte> { 0x00, (byte)name.Length };
        body.AddRange(System.Text.Encoding.ASCII.GetBytes(name));
        body.AddRange([level, 0x02, 0x00, 0x3C]); // clean session, keep alive 60
        if (level == 0x05 || level == 0x85)
            body.Add(0x00); // no properties
        body.AddRange([0x00, 0x01, (byte)'c']);
        return [.. body];
    }

    [Theory]
    [InlineData("MQTT", 0x84, ProtocolVersion.V311)]
    [InlineData("MQIsdp", 0x83, ProtocolVersion.V310)]
    public void ALevelWithTheBridgeBit_IsItsVersion_FromABridge(string name, byte level, ProtocolVersion version)
    {
        Assert.Equal(DecodeError.None, MqttDecoder.DecodeConnect(Connect(name, level), out var connect));
        Assert.Equal(version, connect!.ProtocolVersion);
        Assert.True(connect.IsBridge);
        Assert.Equal("c", connect.ClientId);
    }

    [Fact]
    public void APlainLevel_IsNotFromABridge()
    {
        Assert.Equal(DecodeError.None, MqttDecoder.DecodeConnect(Connect("MQTT", 0x04), out var connect));
        Assert.False(connect!.IsBridge);
    }

    [Theory]
    [InlineData("MQTT", 0x85)]
    [InlineData("MQTT", 0x83)]
    [InlineData("MQIsdp", 0x84)]
    public void TheBridgeBitOnAnotherLevel_IsUnsupported(string name, byte level) =>
        Assert.Equal(DecodeError.UnsupportedProtocolVersion, MqttDecoder.DecodeConnect(Connect(name, level), out _));
}
