namespace Kirisame.Cluster.Tests;

internal static class Routes
{
    /// Routes between nodes are eventually consistent (a subscription reaches the other nodes as a change a few
    /// milliseconds later, docs/adr/0020): publishes QoS 0 probes under <paramref name="prefix"/> from
    /// <paramref name="publisherPort"/> until <paramref name="subscriber"/> has received one. <paramref name="connect"/>:
    /// how the prober connects there (a client of the default tenant without it).
    public static async Task WaitUntilRoutedAsync(int publisherPort, MqttNetClient subscriber, string prefix, Func<Task<MqttNetClient>>? connect = null)
    {
        await using var prober = connect is null
            ? await MqttNetClient.ConnectAsync(publisherPort, MqttProtocolVersion.V500, Unique.ClientId("probe"))
            : await connect();
        var probe = $"{prefix}/probe";
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!subscriber.Messages.Any(m => m.Topic == probe))
        {
            Assert.True(DateTime.UtcNow < deadline, $"No route to {prefix}/# from the node on port {publisherPort} within 20 s");
            await prober.PublishAsync(probe, "probe", MqttQualityOfServiceLevel.AtMostOnce);
            await Poll.UntilAsync(() => subscriber.Messages.Any(m => m.Topic == probe), TimeSpan.FromMilliseconds(200));
        }
    }

    /// The messages of a test, without the probes.
    public static List<ReceivedMessage> Without(IEnumerable<ReceivedMessage> messages, string prefix) =>
        [.. messages.Where(m => m.Topic != $"{prefix}/probe")];
}
