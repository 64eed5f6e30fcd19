using Kirisame.Testing;
using static Kirisame.Interop.Tests.MqttSn.SnTestClient;

namespace Kirisame.Interop.Tests.MqttSn;

/// The will flow at CONNECT, its updates, and its publication when the client is lost (keep-alive expiry).
public sealed class MqttSnWillTests(SnGatewayFixture fixture) : IClassFixture<SnGatewayFixture>
{
    private SnGateway Gateway => fixture.Gateway;

    [Fact]
    public async Task Will_IsPublished_WhenKeepAliveExpires()
    {
        await using var wills = MosquittoClients.StartSubscriber(Gateway.Port, "sn/will/#");
        await MosquittoClients.WaitUntilSubscribedAsync(wills);
        using var client = Gateway.Client();
        // The will flow: WILLTOPICREQ → WILLTOPIC → WILLMSGREQ → WILLMSG → CONNACK (in ConnectAsync).
        Assert.Equal(0, await client.ConnectAsync("sn-will", keepAlive: 1, will: ("sn/will/gone", "sensor lost", 1, false)));
        // Silent from now on: lost after 1.5 × 1 s.
        var line = await wills.WaitForLineAsync(l => l == "sn/will/gone sensor lost", MosquittoClients.DefaultTimeout);
        Assert.True(line is not null, wills.Describe());
    }

    [Fact]
    public async Task WillUpdates_ChangeWhatIsPublished_AndDisconnectPublishesNothing()
    {
        await using var wills = MosquittoClients.StartSubscriber(Gateway.Port, "sn/willupd/#");
        await MosquittoClients.WaitUntilSubscribedAsync(wills);
        using var client = Gateway.Client();
        Assert.Equal(0, await client.ConnectAsync("sn-willupd", keepAlive: 1, will: ("sn/willupd/old", "old", 0, false)));
        client.Send(WillTopicUpd, [Flags(1, clean: false)], Text("sn/willupd/new"));
        Assert.Equal(0, (await client.ExpectAsync(WillTopicResp))[0]);
        client.Send(WillMsgUpd, Text("updated message"));
        Assert.Equal(0, (await client.ExpectAsync(WillMsgResp))[0]);
        var line = await wills.WaitForLineAsync(l => l.StartsWith("sn/willupd/", StringComparison.Ordinal), MosquittoClients.DefaultTimeout);
        Assert.Equal("sn/willupd/new updated message", line);

        using var polite = Gateway.Client();
        Assert.Equal(0, await polite.ConnectAsync("sn-willupd-polite", will: ("sn/willupd/polite", "should not appear", 0, false)));
        polite.Send(Disconnect);
        await polite.ExpectAsync(Disconnect);
        // A deleted will (empty WILLTOPICUPD) is not published either.
        using var deleted = Gateway.Client();
        Assert.Equal(0, await deleted.ConnectAsync("sn-willupd-deleted", keepAlive: 1, will: ("sn/willupd/deleted", "should not appear", 0, false)));
        deleted.Send(WillTopicUpd);
        Assert.Equal(0, (await deleted.ExpectAsync(WillTopicResp))[0]);
        await MosquittoClients.PublishAsync(Gateway.Port, "sn/willupd/marker", "after", 0);
        var next = await wills.WaitForLineAsync(l => l.StartsWith("sn/willupd/", StringComparison.Ordinal) && l != line, MosquittoClients.DefaultTimeout);
        Assert.Equal("sn/willupd/marker after", next);
        // Give the deleted-will client time to be lost (1.5 s) and check nothing was published for it.
        Assert.False(await Poll.UntilAsync(() => wills.StdoutLines.Any(l => l.Contains("should not appear", StringComparison.Ordinal)), TimeSpan.FromSeconds(3)));
    }

    [Fact]
    public async Task EmptyWillTopic_ConnectsWithoutAWill()
    {
        using var client = Gateway.Client();
        client.Send(Connect, [Flags(will: true), 0x01], U16(60), Text("sn-nowill"));
        await client.ExpectAsync(WillTopicReq);
        client.Send(WillTopic);
        Assert.Equal(0, (await client.ExpectAsync(ConnAck))[0]);
    }
}
