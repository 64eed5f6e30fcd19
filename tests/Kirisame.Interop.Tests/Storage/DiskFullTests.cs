using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Storage;

/// A full disk under the real process (an 8 MB tmpfs as the data folder): QoS 1/2 publishes that could not be
/// kept are refused (v5 PUBACK 0x97, v3 connection closed) and the failure is logged once, QoS 0 keeps flowing,
/// and QoS 1 is accepted again once space is freed.
public sealed class DiskFullTests
{
    private const string FailureLog = "refusing QoS 1/2 messages";
    private const string RecoveryLog = "accepting QoS 1/2 messages again";
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(30);

    [TmpfsFact]
    public async Task FullDisk_RefusesQos1_KeepsRoutingQos0_AndRecoversWhenSpaceReturns()
    {
        await using var disk = await Tmpfs.MountAsync(8);
        await using var server = await KirisameProcess.StartAsync(["--data-dir", Path.Combine(disk.Path, "data")]);

        // A persistent session subscribed at QoS 1: messages for it must reach the store.
        await using var keeper = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500, "diskfull-keeper",
            b => b.WithCleanStart(false).WithSessionExpiryInterval(3600));
        await keeper.SubscribeAsync("full/kept", MqttQualityOfServiceLevel.AtLeastOnce);
        await using var watcher = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500);
        await watcher.SubscribeAsync("full/zero", MqttQualityOfServiceLevel.AtMostOnce);
        await using var publisher = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500);
        await publisher.PublishAsync("full/kept", "before", MqttQualityOfServiceLevel.AtLeastOnce);

        var filler = Path.Combine(disk.Path, "filler");
        await using var retainer = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500);
        var fill = new DiskFiller(filler, retainer, publisher);
        // v5: PUBACK with 0x97 Quota exceeded (the probe's topic has no subscriber: the refusal comes first).
        Assert.True(await fill.UntilRefusedAsync(), $"QoS 1 was never refused with the disk full\n{server.Describe()}");

        // v3 has no refusing PUBACK: the broker closes the connection instead of acknowledging. (Closing the
        // database for a retry can free space RocksDB had reserved, so the disk is filled again each time.)
        var closed = false;
        var deadline = DateTime.UtcNow + s_deadline;
        while (!closed && DateTime.UtcNow < deadline && await fill.UntilRefusedAsync())
        {
            await using var v3 = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V311);
            var publish = v3.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("probe").WithPayload("v3")
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            var first = await Task.WhenAny(v3.Disconnected, publish, Task.Delay(TimeSpan.FromSeconds(5)));
            closed = first == v3.Disconnected || (first == publish && v3.Disconnected.IsCompleted);
        }
        Assert.True(closed, $"the v3 connection was not closed after a QoS 1 PUBLISH with the disk full\n{server.Describe()}");

        // QoS 0 does not touch the store and is still routed.
        Assert.True(await fill.UntilRefusedAsync(), server.Describe());
        await publisher.PublishAsync("full/zero", "still flowing", MqttQualityOfServiceLevel.AtMostOnce);
        var zero = Assert.Single(await watcher.WaitForMessagesAsync(1));
        Assert.Equal("still flowing", zero.Payload);

        // Space returns: the store's retries succeed and QoS 1 is accepted again.
        File.Delete(filler);
        var accepted = false;
        deadline = DateTime.UtcNow + s_deadline;
        while (!accepted && DateTime.UtcNow < deadline)
        {
            accepted = await ProbeQos1Async(publisher) is { } code && code != MqttClientPublishReasonCode.QuotaExceeded;
            if (!accepted)
                await Task.Delay(100);
        }
        Assert.True(accepted, $"QoS 1 was still refused {s_deadline.TotalSeconds} s after space was freed\n{server.Describe()}");
        await publisher.PublishAsync("full/kept", "after", MqttQualityOfServiceLevel.AtLeastOnce);
        Assert.True(await Poll.UntilAsync(() => keeper.Messages.Any(m => m.Payload == "after"), MqttNetClient.Timeout),
            $"the persistent subscriber did not get the message published after recovery: {string.Join("; ", keeper.Messages)}");

        // One error line per episode of failures (not one per retry), and one line when it ends.
        Assert.True(await Poll.UntilAsync(() => CountLines(RecoveryLog) == CountLines(FailureLog), s_deadline), server.Describe());
        Assert.InRange(CountLines(FailureLog), 1, fill.Refusals);

        int CountLines(string text) =>
            (server.Process.Stdout + "\n" + server.Process.Stderr).Split('\n').Count(l => l.Contains(text, StringComparison.Ordinal));
    }

    /// The PUBACK's reason code, or null when none came within two seconds: a QoS 1 message accepted just
    /// before a write failed is acknowledged only once the store has written everything before it.
    private static async Task<MqttClientPublishReasonCode?> ProbeQos1Async(MqttNetClient client)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            var result = await client.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("probe").WithPayload("probe")
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), cts.Token);
            return result.ReasonCode;
        }
        catch (Exception ex) when (ex is OperationCanceledException or MQTTnet.Exceptions.MqttCommunicationTimedOutException)
        {
            return null;
        }
    }

    /// Keeps the disk full: tops up a filler file, then writes large retained messages (stored whatever their
    /// QoS) until a QoS 1 probe is refused — RocksDB may first use space it had reserved.
    private sealed class DiskFiller(string path, MqttNetClient retainer, MqttNetClient prober)
    {
        private readonly string _large = new('x', 200 * 1024); // large, to fill the disk quickly (well under the maximum packet size)
        private int _retained;

        public int Refusals { get; private set; }

        public async Task<bool> UntilRefusedAsync()
        {
            var deadline = DateTime.UtcNow + s_deadline;
            while (DateTime.UtcNow < deadline)
            {
                Fill(path);
                if (await ProbeQos1Async(prober) == MqttClientPublishReasonCode.QuotaExceeded)
                {
                    Refusals++;
                    return true;
                }
                await retainer.PublishAsync($"fill/{_retained++}", _large, MqttQualityOfServiceLevel.AtMostOnce, retain: true);
                await retainer.PingAsync();
            }
            return false;
        }

        /// Appends zeros until the file system says no space is left (in smaller pieces at the end).
        private static void Fill(string path)
        {
            using var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.None, bufferSize: 0);
            var chunk = new byte[1 << 20];
            foreach (var size in (int[])[1 << 20, 64 << 10, 4 << 10])
            {
                try
                {
                    while (true)
                        file.Write(chunk, 0, size);
                }
                catch (IOException)
                {
                    // ENOSPC: try a smaller piece.
                }
            }
        }
    }
}
