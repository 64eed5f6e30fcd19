using System.Net;
using System.Net.Sockets;
using System.Text;
using Kirisame.Testing;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Overload;

/// Issue 13, "Overload without loss": back-pressure holds publishers while the broker is behind, but a slow
/// consumer — its socket not draining, or its acknowledgements stopped — must not stall them: after
/// Broker:SlowConsumerTimeout it is marked slow, publishers go on, and only that consumer's queue overflows (counted,
/// logged). A subscriber that keeps up, on the same topics, still gets every message. Were the slow consumer not
/// recognised, the publisher here would wait for it for ever and the test would time out.
public sealed class SlowConsumerTests
{
    private const int Messages = 1500;
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(60);

    private static Task<KirisameProcess> StartAsync() => KirisameProcess.StartAsync(
    [
        "--Broker:SysInterval", "0",
        "--Broker:SlowConsumerTimeout", "00:00:00.5",
        "--Broker:MaxQueuedMessages", "100",
        "--Broker:MaxInflightMessages", "10",
    ]);

    [Fact]
    public async Task SubscriberThatStopsAcknowledging_DoesNotStallThePublisher_AndOthersGetEverything()
    {
        await using var server = await StartAsync();
        await using var stalled = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V311, "stalled");
        stalled.HoldAcknowledgements = true;
        await stalled.SubscribeAsync("load/#", MqttQualityOfServiceLevel.AtLeastOnce);

        await PublishAndCheckAsync(server);
        // The stalled one got its window and no more: it never acknowledged.
        Assert.True(stalled.Messages.Count <= 10, $"{stalled.Messages.Count} messages reached a subscriber that acknowledged none (window 10)");
    }

    [Fact]
    public async Task SubscriberWhoseSocketDoesNotDrain_DoesNotStallThePublisher_AndOthersGetEverything()
    {
        await using var server = await StartAsync();
        // A subscriber that never reads: what the broker writes fills the socket buffers, then waits.
        using var stalled = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await stalled.ConnectAsync(new IPEndPoint(IPAddress.Loopback, server.Port));
        await stalled.SendAsync(Connect("stalled"));
        await stalled.SendAsync(Subscribe("load/#", qos: 0));
        // CONNACK (4 bytes) and SUBACK (5 bytes) are read, so the subscription is in place; nothing after them is.
        var acks = new byte[9];
        for (var read = 0; read < acks.Length;)
            read += await Poll.WithTimeout(stalled.ReceiveAsync(acks.AsMemory(read)).AsTask(), s_deadline, "CONNACK and SUBACK");
        Assert.Equal(0x20, acks[0]);
        Assert.Equal(0x90, acks[4]);

        await PublishAndCheckAsync(server, payloadBytes: 4096);
    }

    /// Publishes <see cref="Messages"/> QoS 1 messages and checks: all acknowledged within the deadline, a
    /// subscriber that keeps up got every one in order, and the broker said which consumer is not keeping up.
    private static async Task PublishAndCheckAsync(KirisameProcess server, int payloadBytes = 16)
    {
        await using var reader = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V311, "reader");
        await reader.SubscribeAsync("load/#", MqttQualityOfServiceLevel.AtLeastOnce);
        await using var publisher = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V311, "publisher");

        var padding = new string('x', payloadBytes);
        var publishing = Task.Run(async () =>
        {
            for (var i = 0; i < Messages; i++)
                await publisher.PublishAsync("load/x", $"{i:D6}{padding}", MqttQualityOfServiceLevel.AtLeastOnce);
        });
        await Poll.WithTimeout(publishing, s_deadline, $"{Messages} QoS 1 publishes acknowledged while a subscriber does not keep up");

        var received = await reader.WaitForMessagesAsync(Messages);
        for (var i = 0; i < Messages; i++)
            Assert.StartsWith($"{i:D6}", received[i].Payload, StringComparison.Ordinal);

        var line = await server.Process.WaitForLineAsync(l => l.Contains("is not keeping up", StringComparison.Ordinal), s_deadline);
        Assert.True(line is not null, "no log line said which consumer is not keeping up\n" + server.Describe());
        Assert.Contains("stalled", line, StringComparison.Ordinal);
    }

    private static byte[] Connect(string clientId)
    {
        var body = new List<byte>();
        WireBytes.AddString(body, "MQTT");
        body.AddRange([4, 0x02, 0x00, 0x3C]); // 3.1.1, clean session, keep alive 60 s
        WireBytes.AddString(body, clientId);
        return WireBytes.Packet(0x10, body);
    }

    private static byte[] Subscribe(string filter, byte qos)
    {
        var body = new List<byte> { 0x00, 0x01 };
        WireBytes.AddString(body, filter);
        body.Add(qos);
        return WireBytes.Packet(0x82, body);
    }


}
