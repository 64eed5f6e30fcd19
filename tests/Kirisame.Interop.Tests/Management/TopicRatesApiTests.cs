using System.Globalization;
using System.Net;
using System.Text.Json;
using Kirisame.Testing;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Management;

/// Per-topic message rates: /api/v1/topics/rates, the topic tree's rates and `kirisame ctl topics`, each against a
/// server of its own with a short rate window. The rates are those of the last complete window, and windows end on
/// a timer, so the tests publish steady streams in fixed proportions (any window holds them, in those proportions
/// give or take one round at its edges); exact counting is TopicRatesTests' (Broker.Tests).
public sealed class TopicRatesApiTests
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(30);

    /// Rounds of a stream a window must hold before its proportions are checked: not the first window, which the
    /// stream may have entered just before it ended; with 20, one round more or less at the edges moves a
    /// proportion of 5 by at most 5 %.
    private const int MinimumRounds = 20;

    private static Task<ManagedBroker> StartAsync(string window, params string[] more) =>
        ManagedBroker.StartAsync(false, ["--Broker:TopicRateWindow", window, .. more]);

    /// Publishes rounds of <paramref name="round"/> (each topic as many times as it says) until disposed.
    private sealed class Stream : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _publishing;

        public Stream(MqttNetClient client, params (string Topic, int Times)[] round) =>
            _publishing = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    foreach (var (topic, times) in round)
                    {
                        for (var i = 0; i < times; i++)
                            await client.PublishAsync(topic, i.ToString(CultureInfo.InvariantCulture), MqttQualityOfServiceLevel.AtLeastOnce);
                    }

                    await Task.Delay(5);
                }
            });

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _publishing;
            _stop.Dispose();
        }
    }

    /// Polls <paramref name="path"/> until <paramref name="ready"/> holds of its answer.
    private static async Task<JsonElement> PollAsync(ManagedBroker broker, string path, Func<JsonElement, bool> ready, string what)
    {
        for (var deadline = DateTime.UtcNow + s_deadline; DateTime.UtcNow < deadline; await Task.Delay(50))
        {
            var answer = await broker.GetJsonAsync(path, Caller.Viewer);
            if (ready(answer))
                return answer;
        }

        throw new TimeoutException($"{what} within {s_deadline}\n{broker.Server.Describe()}");
    }

    [Fact]
    public async Task AtLightLoad_EveryMessageIsCounted_BusiestFirst_AndTheBrokersOwnAreLeftOut()
    {
        // $SYS every second, so that the broker's own messages fall into every window.
        await using var broker = await StartAsync("00:00:03", "--Broker:SysInterval", "1");
        var root = Unique.Topic("rates");
        await using var client = await MqttNetClient.ConnectAsync(broker.MqttPort, MqttProtocolVersion.V500, Unique.ClientId("rates"));
        await using var stream = new Stream(client, ($"{root}/hot", 5), ($"{root}/cold", 1));

        var rates = await PollAsync(broker, "/api/v1/topics/rates",
            r => r.GetProperty("topics").GetProperty("items").EnumerateArray().Any(i => i.GetProperty("topic").GetString() == $"{root}/cold"
                && i.GetProperty("messagesPerSecond").GetDouble() * r.GetProperty("windowSeconds").GetDouble() >= MinimumRounds),
            "a window with the stream");

        var items = rates.GetProperty("topics").GetProperty("items").EnumerateArray()
            .Select(i => (Topic: i.GetProperty("topic").GetString()!, PerSecond: i.GetProperty("messagesPerSecond").GetDouble())).ToList();
        Assert.Equal(1, rates.GetProperty("sampleInterval").GetInt32());
        Assert.Equal(0, rates.GetProperty("untrackedPerSecond").GetDouble());
        Assert.Equal([$"{root}/hot", $"{root}/cold"], items.Select(i => i.Topic));
        Assert.InRange(items[0].PerSecond / items[1].PerSecond, 4.5, 5.5);
        Assert.DoesNotContain(items, i => i.Topic.StartsWith('$'));

        var refused = await broker.SendAsync(HttpMethod.Get, "/api/v1/topics/rates?filter=a%2F%23%2Fb");
        ProblemAssert.Is(HttpStatusCode.BadRequest, refused, "not a valid topic filter");
    }

    [Fact]
    public async Task TheTopicTree_ShowsEachTopicsRate_AndTheSumBelowEachLevel()
    {
        await using var broker = await StartAsync("00:00:03");
        var root = Unique.Topic("tree-rates");
        await using var client = await MqttNetClient.ConnectAsync(broker.MqttPort, MqttProtocolVersion.V500, Unique.ClientId("tree-rates"));
        await using var stream = new Stream(client, ($"{root}/a/x", 2), ($"{root}/a/y", 2), ($"{root}/b", 1));

        var page = await PollAsync(broker, $"/api/v1/topics?parent={Uri.EscapeDataString(root)}",
            p => p.GetProperty("items").EnumerateArray().Any(i => i.GetProperty("level").GetString() == "b"
                && i.GetProperty("messagesPerSecond").GetDouble() * 3 >= MinimumRounds),
            "the tree's rates");

        var levels = page.GetProperty("items").EnumerateArray().ToDictionary(i => i.GetProperty("level").GetString()!, i => i);
        Assert.Equal(["a", "b"], levels.Keys.Order(StringComparer.Ordinal));
        var a = levels["a"];
        var b = levels["b"];
        Assert.Equal(0, a.GetProperty("messagesPerSecond").GetDouble());
        Assert.Equal(2, a.GetProperty("children").GetInt32());
        Assert.Equal(b.GetProperty("messagesPerSecond").GetDouble(), b.GetProperty("messagesPerSecondInSubtree").GetDouble());
        // Four messages below a for each one to b.
        Assert.InRange(a.GetProperty("messagesPerSecondInSubtree").GetDouble() / b.GetProperty("messagesPerSecond").GetDouble(), 3.6, 4.4);
    }

    [Fact]
    public async Task Ctl_Topics_ListsTheTopicsPublishedTo_NarrowedByAFilter()
    {
        await using var broker = await StartAsync("00:00:01");
        var root = Unique.Topic("ctl-rates");
        var other = Unique.Topic("ctl-other");
        await using var client = await MqttNetClient.ConnectAsync(broker.MqttPort, MqttProtocolVersion.V500, Unique.ClientId("ctl-rates"));
        ToolResult? listed = null;
        await using (new Stream(client, ($"{root}/steady", 1), ($"{other}/steady", 1)))
        {
            for (var deadline = DateTime.UtcNow + s_deadline; DateTime.UtcNow < deadline;)
            {
                listed = await KirisameProcess.RunToCompletionAsync(["ctl", "--url", broker.BaseUrl, "topics", "--filter", $"{root}/#"], s_deadline);
                if (listed.ExitCode != 0 || listed.Stdout.Contains($"{root}/steady", StringComparison.Ordinal))
                    break;
            }
        }

        Assert.True(listed!.ExitCode == 0, listed.ToString());
        var lines = listed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("TOPIC", lines[0], StringComparison.Ordinal);
        Assert.Contains("MESSAGES/S", lines[0], StringComparison.Ordinal);
        Assert.StartsWith($"{root}/steady", Assert.Single(lines, l => l.Contains("/steady", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains("every message counted", lines[^1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task TurnedOff_TheRatesAnswer404_AndTheTreeHasNone()
    {
        await using var broker = await ManagedBroker.StartAsync(false, "--Broker:TopicRateTopics", "0");
        var root = Unique.Topic("off");
        Assert.Equal(0, (await MosquittoClients.PublishAsync(broker.MqttPort, $"{root}/kept", "1", qos: 1, retain: true)).ExitCode);

        var refused = await broker.SendAsync(HttpMethod.Get, "/api/v1/topics/rates");
        var tree = await broker.GetJsonAsync($"/api/v1/topics?parent={Uri.EscapeDataString(root)}");

        ProblemAssert.Is(HttpStatusCode.NotFound, refused, "Broker:TopicRateTopics");
        Assert.Equal(0, Assert.Single(tree.GetProperty("items").EnumerateArray()).GetProperty("messagesPerSecondInSubtree").GetDouble());
    }
}
