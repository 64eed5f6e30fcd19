using System.Globalization;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Tenants;

/// Each tenant quota against the real server, with the reason code a client over it gets (docs/adr/0021-tenants.md).
/// One tenant per quota, anonymous clients allowed in each (the user name only names the tenant).
public sealed class TenantQuotaTests : IAsyncLifetime, IDisposable
{
    private readonly TenantFiles _files = new();
    private KirisameProcess? _server;

    private KirisameProcess Server => _server!;

    public async Task InitializeAsync()
    {
        _files.WriteTenants(new Dictionary<string, object>
        {
            ["conn"] = new { AllowAnonymous = true, Quotas = new { MaxConnections = 2 } },
            ["sess"] = new { AllowAnonymous = true, Quotas = new { MaxSessions = 2 } },
            ["rate"] = new { AllowAnonymous = true, Quotas = new { MaxMessagesPerSecond = 5 } },
            ["ret"] = new { AllowAnonymous = true, Quotas = new { MaxRetainedMessages = 2, MaxRetainedBytes = 10 } },
            ["queue"] = new { AllowAnonymous = true, Quotas = new { MaxQueuedBytes = 1000 } },
        });
        _server = await KirisameProcess.StartAsync(["--Tenants:File", _files.TenantsFile]);
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
            await _server.DisposeAsync();
    }

    public void Dispose() => _files.Dispose();

    private Task<MqttNetClient> TryConnectAsync(string tenant, string? clientId = null, Action<MqttClientOptionsBuilder>? configure = null,
        MqttProtocolVersion version = MqttProtocolVersion.V500) =>
        MqttNetClient.TryConnectAsync(Server.Port, version, clientId, o =>
        {
            o.WithCredentials($"{tenant}:anyone", "");
            configure?.Invoke(o);
        });

    private async Task<MqttNetClient> ConnectAsync(string tenant, string? clientId = null, Action<MqttClientOptionsBuilder>? configure = null)
    {
        var client = await TryConnectAsync(tenant, clientId, configure);
        Assert.Equal(MqttClientConnectResultCode.Success, client.ConnectResult!.ResultCode);
        return client;
    }

    private static async Task<MqttClientPublishResult> PublishAsync(MqttNetClient client, string topic, string payload, bool retain = false)
    {
        using var cts = new CancellationTokenSource(MqttNetClient.Timeout);
        return await client.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithRetainFlag(retain).Build(), cts.Token);
    }

    [Fact]
    public async Task Connections_OverTheQuota_AreRefusedWithQuotaExceeded_AndAdmittedWhenOneLeaves()
    {
        await using var first = await ConnectAsync("conn");
        var second = await ConnectAsync("conn");
        await using var third = await TryConnectAsync("conn");
        Assert.Equal(MqttClientConnectResultCode.QuotaExceeded, third.ConnectResult!.ResultCode);
        Assert.Contains("quota of connections", third.ConnectResult.ReasonString, StringComparison.Ordinal);

        // MQTT 3.1.1 has no 0x97: the nearest return code, 3 (server unavailable).
        var v3 = await Tools.RunAsync(MosquittoClients.Pub, ["-h", "127.0.0.1", "-p", Server.Port.ToString(CultureInfo.InvariantCulture),
            "-u", "conn:anyone", "-t", "t", "-m", "m"], MosquittoClients.DefaultTimeout);
        Assert.NotEqual(0, v3.ExitCode);
        Assert.Contains("unavailable", v3.Stderr + v3.Stdout, StringComparison.OrdinalIgnoreCase);
        Assert.NotNull(await Server.Process.WaitForLineAsync(l => l.Contains("tenant 'conn' is at its quota of connections (2)", StringComparison.Ordinal),
            MosquittoClients.DefaultTimeout));

        // Other tenants are not affected, and a client leaving makes room.
        await using var elsewhere = await ConnectAsync("sess");
        await second.DisposeAsync();
        var deadline = DateTime.UtcNow + MqttNetClient.Timeout;
        MqttClientConnectResultCode code;
        do
        {
            await using var again = await TryConnectAsync("conn");
            code = again.ConnectResult!.ResultCode;
        }
        while (code != MqttClientConnectResultCode.Success && DateTime.UtcNow < deadline);
        Assert.Equal(MqttClientConnectResultCode.Success, code);
    }

    [Fact]
    public async Task Sessions_OverTheQuota_AreRefusedWithQuotaExceeded_ExistingOnesResume()
    {
        void Persistent(MqttClientOptionsBuilder o) => o.WithCleanStart(false).WithSessionExpiryInterval(300);
        await (await ConnectAsync("sess", "s1", Persistent)).DisposeAsync();
        await (await ConnectAsync("sess", "s2", Persistent)).DisposeAsync();

        await using var third = await TryConnectAsync("sess", "s3", Persistent);
        Assert.Equal(MqttClientConnectResultCode.QuotaExceeded, third.ConnectResult!.ResultCode);
        Assert.Contains("quota of sessions", third.ConnectResult.ReasonString, StringComparison.Ordinal);

        await using var resumed = await ConnectAsync("sess", "s1", Persistent);
        Assert.True(resumed.ConnectResult!.IsSessionPresent);
    }

    [Fact]
    public async Task MessageRate_AboveTheQuota_DisconnectsWithMessageRateTooHigh()
    {
        await using var publisher = await ConnectAsync("rate");
        await using var calm = await ConnectAsync("conn");
        using var cts = new CancellationTokenSource(MqttNetClient.Timeout);
        // A burst of the rate's worth passes; the sixth message within the second does not. QoS 0: nothing to wait for.
        for (var i = 0; i < 20 && publisher.Client.IsConnected; i++)
        {
            await publisher.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("fast").WithPayload("x")
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtMostOnce).Build(), cts.Token);
        }

        var disconnected = await Poll.WithTimeout(publisher.Disconnected, MqttNetClient.Timeout, "the rate quota's DISCONNECT");
        Assert.Equal(MqttClientDisconnectReason.MessageRateTooHigh, disconnected.Reason);
        await calm.PingAsync(); // another tenant's client is untouched
    }

    [Fact]
    public async Task RetainedCountAndBytes_OverTheQuota_AreRefusedInPubAckWithQuotaExceeded()
    {
        await using var client = await ConnectAsync("ret");
        Assert.True((await PublishAsync(client, "r/1", "aaaa", retain: true)).IsSuccess);
        Assert.True((await PublishAsync(client, "r/2", "bbbb", retain: true)).IsSuccess);

        var third = await PublishAsync(client, "r/3", "c", retain: true);
        Assert.Equal(MqttClientPublishReasonCode.QuotaExceeded, third.ReasonCode);
        Assert.Contains("quota of retained messages", third.ReasonString, StringComparison.Ordinal);

        // Replacing one is not a new one; but it may not take the bytes over 10 (r/1 "aa" and r/2 of 9 bytes: 11).
        Assert.True((await PublishAsync(client, "r/1", "aa", retain: true)).IsSuccess);
        var tooBig = await PublishAsync(client, "r/2", "bbbbbbbbb", retain: true);
        Assert.Equal(MqttClientPublishReasonCode.QuotaExceeded, tooBig.ReasonCode);
        Assert.Contains("retained bytes", tooBig.ReasonString, StringComparison.Ordinal);

        // Deleting one (an empty retained message) is always allowed, and makes room.
        Assert.True((await PublishAsync(client, "r/2", "", retain: true)).IsSuccess);
        Assert.True((await PublishAsync(client, "r/3", "c", retain: true)).IsSuccess);
        Assert.True(client.Client.IsConnected);
        Assert.NotNull(await Server.Process.WaitForLineAsync(l => l.Contains("holds its quota of retained messages (2); refused with 0x97", StringComparison.Ordinal),
            MqttNetClient.Timeout));

        // MQTT 3.1.1 acknowledgements cannot refuse: the connection is closed instead (mosquitto_pub reports the lost connection).
        var v3 = await Tools.RunAsync(MosquittoClients.Pub, ["-h", "127.0.0.1", "-p", Server.Port.ToString(CultureInfo.InvariantCulture),
            "-u", "ret:anyone", "-q", "1", "-r", "-t", "r/4", "-m", "d"], MosquittoClients.DefaultTimeout);
        Assert.NotEqual(0, v3.ExitCode);
        Assert.NotNull(await Server.Process.WaitForLineAsync(l => l.Contains("closing (MQTT 3.1.1 cannot refuse a message)", StringComparison.Ordinal),
            MqttNetClient.Timeout));
    }

    [Fact]
    public async Task QueuedBytes_OverTheQuota_RefusePublishesWithQuotaExceeded()
    {
        // An offline persistent subscriber whose queue grows with each message.
        void Persistent(MqttClientOptionsBuilder o) => o.WithCleanStart(false).WithSessionExpiryInterval(300);
        await using (var subscriber = await ConnectAsync("queue", "slow", Persistent))
            await subscriber.SubscribeAsync("q", MqttQualityOfServiceLevel.AtLeastOnce);

        await using var publisher = await ConnectAsync("queue");
        var payload = new string('x', 300);
        MqttClientPublishResult? refused = null;
        // Checked once a second from the queues' sizes: publish until the quota bites (four messages are over 1000 bytes).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        var sent = 0;
        while (refused is null && DateTime.UtcNow < deadline)
        {
            var result = await PublishAsync(publisher, "q", payload);
            if (result.ReasonCode == MqttClientPublishReasonCode.QuotaExceeded)
                refused = result;
            else
                sent++;
            if (sent >= 4)
                await Task.Delay(50); // polling: the check runs once a second
        }

        Assert.NotNull(refused);
        Assert.Contains("queued", refused.ReasonString, StringComparison.Ordinal);
        Assert.True(sent >= 4, $"refused after {sent} messages of 300 bytes");
    }
}
