using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;

namespace Kirisame.Protocol.Tests;

public class PublishPropertiesTests
{
    // Regression: a null byte[] converted to an empty-but-present ReadOnlyMemory<byte>?, so absent Content Type,
    // Response Topic and Correlation Data came back as empty ones and were encoded (an empty Response Topic is invalid).
    [Fact]
    public void From_WithoutOptionalProperties_LeavesThemAbsent()
    {
        var properties = PublishProperties.From(new MqttProperties { MessageExpiryInterval = 5 });
        Assert.Null(properties.ContentType);
        Assert.Null(properties.ResponseTopic);
        Assert.Null(properties.CorrelationData);
        Assert.Equal(5, PropertyCodec.GetSize(properties));
    }

    [Fact]
    public void Detach_KeepsAbsentPropertiesAbsent()
    {
        var detached = default(PublishProperties).Detach();
        Assert.True(detached.IsEmpty);
        Assert.Equal(0, PropertyCodec.GetSize(detached));
    }

    [Fact]
    public void Detach_CopiesPresentProperties()
    {
        var source = PublishProperties.From(new MqttProperties { ContentType = "", CorrelationData = [1], ResponseTopic = "r" });
        var detached = source.Detach();
        Assert.True(detached.ContentEquals(source));
        Assert.NotNull(detached.ContentType); // present and empty stays present
        Assert.Equal(0, detached.ContentType.Value.Length);
    }

    [Fact]
    public void DetachedPublish_EncodesLikeTheOriginal()
    {
        byte[] bytes = [0x30, 0x08, 0x00, 0x03, (byte)'a', (byte)'/', (byte)'b', 0x00, (byte)'h', (byte)'i'];
        var raw = new Framing.RawPacket(PacketType.Publish, 0, bytes.AsMemory(2), bytes.Length);
        Assert.Equal(DecodeError.None, MqttDecoder.DecodePublish(raw, ProtocolVersion.V500, out var publish));
        Assert.Equal(bytes, MqttEncoder.Encode(new PublishMessagePacket(publish.Detach()), ProtocolVersion.V500));
    }
}
