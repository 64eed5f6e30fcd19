using Kirisame.Client;

namespace Kirisame.Client.Tests;

public sealed class MqttServerAddressTests
{
    [Theory]
    [InlineData("mqtt://broker:1884", MqttTransport.Tcp, "broker", 1884, "")]
    [InlineData("tcp://broker", MqttTransport.Tcp, "broker", 1883, "")]
    [InlineData("broker:1999", MqttTransport.Tcp, "broker", 1999, "")]
    [InlineData("127.0.0.1", MqttTransport.Tcp, "127.0.0.1", 1883, "")]
    [InlineData("mqtts://broker", MqttTransport.Tls, "broker", 8883, "")]
    [InlineData("ssl://broker:9000", MqttTransport.Tls, "broker", 9000, "")]
    [InlineData("ws://broker:8080", MqttTransport.WebSocket, "broker", 8080, "/mqtt")]
    [InlineData("ws://broker:8080/", MqttTransport.WebSocket, "broker", 8080, "/")]
    [InlineData("wss://broker/ws/mqtt", MqttTransport.SecureWebSocket, "broker", 443, "/ws/mqtt")]
    [InlineData("mqtt://[::1]:1884", MqttTransport.Tcp, "::1", 1884, "")]
    public void Parse_ReadsTransportHostPortAndPath(string text, MqttTransport transport, string host, int port, string path)
    {
        var address = MqttServerAddress.Parse(text);

        Assert.Equal(transport, address.Transport);
        Assert.Equal(host, address.Host);
        Assert.Equal(port, address.Port);
        Assert.Equal(path, address.Path);
        Assert.Null(address.UserName);
    }

    [Fact]
    public void Parse_ReadsPercentEncodedCredentials()
    {
        var address = MqttServerAddress.Parse("mqtts://bridge%40site:p%3Ass@broker:8883");

        Assert.Equal("bridge@site", address.UserName);
        Assert.Equal("p:ss", address.Password);
        Assert.DoesNotContain("p:ss", address.ToString(), StringComparison.Ordinal); // logs never show it
        Assert.Equal("mqtts://bridge%40site@broker:8883", address.ToString());
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("http://broker", "scheme 'http'")]
    [InlineData("mqtt://broker:1883/path", "path")]
    [InlineData("mqtt://broker:99999", "not a server address")]
    [InlineData("mqtt://", "not a server address")]
    public void TryParse_SaysWhatIsWrong(string text, string expected)
    {
        Assert.False(MqttServerAddress.TryParse(text, out var address, out var error));
        Assert.Null(address);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }
}
