using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Kirisame.Bench.Clients;
using Kirisame.Bench.Measurement;
using Kirisame.Protocol;

namespace Kirisame.Bench.Scenarios;

/// fan-in, fan-out, pairs and latency: the same engine with different topologies. Subscribers connect and
/// subscribe first, then publishers start; after the warm-up the window opens, and after it the publishers
/// stop, QoS 1/2 publishers wait for their acknowledgements, and the subscribers drain before counting.
internal static class MessageScenario
{
    private const int ReceiveBufferBytes = 256 * 1024;
    private const int PublisherBufferBytes = 16 * 1024;
    private const int ConnectConcurrency = 32;
    private static readonly TimeSpan DrainQuiet = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(10);

    // QoS 0 has no window, so an unthrottled run can be far ahead of the broker; what has not arrived this
    // long after publishing stopped counts as dropped.
    private static readonly TimeSpan DrainLimitQoS0 = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan StopLimit = TimeSpan.FromSeconds(10);

    public static async Task<BenchResult> RunAsync(BenchOptions o, EndPoint broker, CancellationToken cancellationToken)
    {
        var result = new BenchResult { Options = o };
        var publisherCount = o.Publishers!.Value;
        var subscriberCount = o.Subscribers!.Value;
        var run = Convert.ToHexString(RandomNumberGenerator.GetBytes(4)).ToLowerInvariant();
        var root = $"kirisame-bench/{run}";
        var clock = new RunClock();

        string PublisherTopic(int i) => o.Scenario switch
        {
            Scenario.FanOut => $"{root}/t",
            Scenario.Pairs => $"{root}/t/{i}",
            _ => o.SharedTopic ? $"{root}/t" : $"{root}/t/{i}",
        };
        string SubscriberFilter(int i) => o.Scenario switch
        {
            Scenario.FanOut => $"{root}/t",
            Scenario.Pairs => $"{root}/t/{i}",
            _ => o.SharedTopic ? $"{root}/t" : $"{root}/t/+",
        };
        var subscribersPerMessage = o.Scenario == Scenario.Pairs ? 1 : subscriberCount;

        if (o.BrokerPid is { } pid)
            result.BrokerRssBefore = BrokerProcess.ReadRss(pid);

        var subscriberConnections = new BenchConnection[subscriberCount];
        var publisherConnections = new BenchConnection[publisherCount];
        var subscribers = new Subscriber[subscriberCount];
        var publishers = new Publisher[publisherCount];
        using var stopSubscribers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var subscriberTasks = new Task[subscriberCount];
        var publisherTasks = new Task[publisherCount];
        try
        {
            await ForEachAsync(subscriberCount, async i =>
            {
                var c = await BenchConnection.OpenAsync(broker, null, $"kb-{run}-s{i}", o.Version, ReceiveBufferBytes, cancellationToken, o.SessionExpiry);
                subscriberConnections[i] = c;
                await c.SubscribeAsync(SubscriberFilter(i), o.QoS, cancellationToken);
            }, cancellationToken);
            for (var i = 0; i < subscriberCount; i++)
            {
                subscribers[i] = new Subscriber(subscriberConnections[i], clock);
                subscriberTasks[i] = subscribers[i].RunAsync(stopSubscribers.Token);
            }

            await ForEachAsync(publisherCount, async i =>
                publisherConnections[i] = await BenchConnection.OpenAsync(broker, null, $"kb-{run}-p{i}", o.Version, PublisherBufferBytes, cancellationToken, o.SessionExpiry),
                cancellationToken);
            for (var i = 0; i < publisherCount; i++)
            {
                // Split the total rate evenly; the remainder goes to the first publishers.
                var rate = o.Rate!.Value == 0 ? 0 : (o.Rate.Value / publisherCount) + (i < o.Rate.Value % publisherCount ? 1 : 0);
                publishers[i] = new Publisher(publisherConnections[i], PublisherTopic(i), o.QoS, o.PayloadSize, rate, o.Inflight);
            }

            using var abortPublishers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            for (var i = 0; i < publisherCount; i++)
                publisherTasks[i] = publishers[i].RunAsync(abortPublishers.Token);

            await Task.Delay(o.Warmup, cancellationToken);
            using var cpu = new CpuMeter();
            var sent0 = Sum(publishers, static p => p.Sent);
            var delivered0 = Sum(subscribers, static s => s.Received);
            var windowStart = Stopwatch.GetTimestamp();
            var allocated0 = GC.GetTotalAllocatedBytes(precise: false);
            var brokerCpu0 = o.BrokerPid is { } p0 ? BrokerProcess.ReadCpuSeconds(p0) : null;
            cpu.Start();
            clock.Measuring = true;

            await Task.Delay(o.Duration, cancellationToken);

            clock.Measuring = false;
            var sent1 = Sum(publishers, static p => p.Sent);
            var delivered1 = Sum(subscribers, static s => s.Received);
            result.WindowSeconds = Stopwatch.GetElapsedTime(windowStart).TotalSeconds;
            result.GeneratorCpu = cpu.Stop();
            var brokerCpu1 = o.BrokerPid is { } p1 ? BrokerProcess.ReadCpuSeconds(p1) : null;
            if (brokerCpu0 is { } b0 && brokerCpu1 is { } b1)
                result.BrokerBusyCores = (b1 - b0) / result.WindowSeconds;
            result.GeneratorAllocatedBytes = GC.GetTotalAllocatedBytes(precise: false) - allocated0;
            result.SentPerSecond = (sent1 - sent0) / result.WindowSeconds;
            result.DeliveredPerSecond = (delivered1 - delivered0) / result.WindowSeconds;

            foreach (var p in publishers)
                p.Stop();
            abortPublishers.CancelAfter(StopLimit);
            await Task.WhenAll(publisherTasks);
            if (abortPublishers.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                result.Errors.Add($"publishers had not finished {StopLimit.TotalSeconds:0} s after stopping (messages unacknowledged, or a send the broker did not read)");

            result.TotalSent = Sum(publishers, static p => p.Sent);
            result.TotalExpected = result.TotalSent * subscribersPerMessage;
            var drainLimit = o.QoS == QualityOfService.AtMostOnce ? DrainLimitQoS0 : DrainLimit;
            result.TotalDelivered = await DrainAsync(subscribers, result.TotalExpected, drainLimit, cancellationToken);
            result.Rejected = Sum(publishers, static p => p.Rejected);

            var latency = new LatencyHistogram();
            foreach (var s in subscribers)
                latency.Add(s.Latency);
            if (latency.Count > 0)
                result.Latency = Summarise(latency);

            foreach (var p in publishers)
                if (p.Error is { } e)
                    result.Errors.Add(e);
            foreach (var s in subscribers)
                if (s.Error is { } e)
                    result.Errors.Add(e);
        }
        finally
        {
            await stopSubscribers.CancelAsync();
            if (o.QoS == QualityOfService.AtMostOnce)
            {
                foreach (var c in publisherConnections)
                    c?.Abort();
            }
            else
            {
                await CloseAllAsync(publisherConnections);
            }

            await CloseAllAsync(subscriberConnections);
            await Task.WhenAll(subscriberTasks.Where(t => t is not null));
            await Task.WhenAll(publisherTasks.Where(t => t is not null));
        }

        if (o.BrokerPid is { } pidAfter)
            result.BrokerRssAfter = BrokerProcess.ReadRss(pidAfter);
        return result;
    }

    /// Waits until the subscribers have everything expected, nothing has arrived for a second, or the limit.
    private static async Task<long> DrainAsync(Subscriber[] subscribers, long expected, TimeSpan drainLimit, CancellationToken cancellationToken)
    {
        var limit = Stopwatch.GetTimestamp();
        var last = Sum(subscribers, static s => s.Received);
        var lastChange = Stopwatch.GetTimestamp();
        while (last < expected && Stopwatch.GetElapsedTime(limit) < drainLimit && Stopwatch.GetElapsedTime(lastChange) < DrainQuiet)
        {
            await Task.Delay(20, cancellationToken);
            var now = Sum(subscribers, static s => s.Received);
            if (now != last)
            {
                last = now;
                lastChange = Stopwatch.GetTimestamp();
            }
        }

        return last;
    }

    internal static LatencySummary Summarise(LatencyHistogram h)
    {
        var ticksPerMicrosecond = Stopwatch.Frequency / 1_000_000.0;
        double Us(long ticks) => ticks / ticksPerMicrosecond;
        return new LatencySummary(h.Count, Us(h.Percentile(0.50)), Us(h.Percentile(0.90)), Us(h.Percentile(0.99)), Us(h.Percentile(0.999)), Us(h.Max));
    }

    private static long Sum<T>(T[] items, Func<T, long> value)
    {
        long total = 0;
        foreach (var item in items)
            total += value(item);
        return total;
    }

    internal static async Task ForEachAsync(int count, Func<int, Task> body, CancellationToken cancellationToken)
    {
        var options = new ParallelOptions { MaxDegreeOfParallelism = ConnectConcurrency, CancellationToken = cancellationToken };
        await Parallel.ForAsync(0, count, options, async (i, _) => await body(i));
    }

    private static async Task CloseAllAsync(BenchConnection?[] connections)
    {
        var closing = new List<Task>(connections.Length);
        foreach (var c in connections)
            if (c is not null)
                closing.Add(c.CloseAsync());
        await Task.WhenAll(closing);
    }
}
