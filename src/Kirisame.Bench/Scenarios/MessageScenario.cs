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

    // Many subscribers share this much receive buffer (each at least MinReceiveBufferBytes; a buffer grows
    // when a packet does not fit), so a thousand pairs do not cost the generator a quarter of a gigabyte.
    private const int ReceiveBufferBudget = 64 * 1024 * 1024;
    private const int MinReceiveBufferBytes = 16 * 1024;
    private const int PublisherBufferBytes = 16 * 1024;
    private const int ConnectConcurrency = 32;
    private static readonly TimeSpan DrainQuiet = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(10);

    // QoS 0 has no window, so an unthrottled run can be far ahead of the broker; what has not arrived this
    // long after publishing stopped counts as dropped.
    private static readonly TimeSpan DrainLimitQoS0 = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan StopLimit = TimeSpan.FromSeconds(10);

    /// <paramref name="subscriberBroker"/>: where the subscribers connect (another node of a cluster, or the same broker).
    public static async Task<BenchResult> RunAsync(BenchOptions o, EndPoint broker, EndPoint subscriberBroker, CancellationToken cancellationToken)
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
        result.SubscribersPerMessage = subscribersPerMessage;
        var receiveBuffer = Math.Clamp(ReceiveBufferBudget / subscriberCount, MinReceiveBufferBytes, ReceiveBufferBytes);
        var acknowledged = o.QoS != QualityOfService.AtMostOnce;

        // From before the first client connects until the last has closed: the broker's whole run.
        await using var rss = o.BrokerPid is { } pid ? RssSampler.Start(pid) : null;
        result.BrokerRssBefore = rss?.First;

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
                var c = await BenchConnection.OpenAsync(subscriberBroker, null, $"kb-{run}-s{i}", o.Version, receiveBuffer, cancellationToken, o.SessionExpiry);
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
            var accepted0 = Sum(publishers, static p => p.Accepted);
            var delivered0 = Sum(subscribers, static s => s.Received);
            var windowStart = Stopwatch.GetTimestamp();
            var allocated0 = GC.GetTotalAllocatedBytes(precise: false);
            var brokerCpu0 = o.BrokerPid is { } p0 ? BrokerProcess.ReadCpuSeconds(p0) : null;
            cpu.Start();
            clock.Measuring = true;

            // The window, read at each whole second for the per-second series.
            var deliveredSeries = new PerSecondSeries();
            var acceptedSeries = new PerSecondSeries();
            deliveredSeries.Start(delivered0, windowStart);
            acceptedSeries.Start(accepted0, windowStart);
            for (var second = 1; second <= (int)o.Duration.TotalSeconds; second++)
            {
                await DelayUntilAsync(windowStart, TimeSpan.FromSeconds(second), cancellationToken);
                var now = Stopwatch.GetTimestamp();
                deliveredSeries.Sample(Sum(subscribers, static s => s.Received), now);
                acceptedSeries.Sample(Sum(publishers, static p => p.Accepted), now);
            }

            await DelayUntilAsync(windowStart, o.Duration, cancellationToken);

            clock.Measuring = false;
            var sent1 = Sum(publishers, static p => p.Sent);
            var accepted1 = Sum(publishers, static p => p.Accepted);
            var delivered1 = Sum(subscribers, static s => s.Received);
            result.WindowSeconds = Stopwatch.GetElapsedTime(windowStart).TotalSeconds;
            result.GeneratorCpu = cpu.Stop();
            var brokerCpu1 = o.BrokerPid is { } p1 ? BrokerProcess.ReadCpuSeconds(p1) : null;
            if (brokerCpu0 is { } b0 && brokerCpu1 is { } b1)
                result.BrokerBusyCores = (b1 - b0) / result.WindowSeconds;
            result.GeneratorAllocatedBytes = GC.GetTotalAllocatedBytes(precise: false) - allocated0;
            result.SentPerSecond = (sent1 - sent0) / result.WindowSeconds;
            result.DeliveredPerSecond = (delivered1 - delivered0) / result.WindowSeconds;
            result.DeliveredPerSecondSeries = deliveredSeries.Rates;
            if (acknowledged)
            {
                result.AcceptedPerSecond = (accepted1 - accepted0) / result.WindowSeconds;
                result.AcceptedPerSecondSeries = acceptedSeries.Rates;
            }

            foreach (var p in publishers)
                p.Stop();
            abortPublishers.CancelAfter(StopLimit);
            await Task.WhenAll(publisherTasks);
            if (abortPublishers.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                result.Errors.Add($"publishers had not finished {StopLimit.TotalSeconds:0} s after stopping (messages unacknowledged, or a send the broker did not read)");

            result.TotalSent = Sum(publishers, static p => p.Sent);
            result.TotalExpected = result.TotalSent * subscribersPerMessage;
            result.Rejected = Sum(publishers, static p => p.Rejected);
            if (acknowledged)
                result.TotalAccepted = Sum(publishers, static p => p.Accepted);

            // At QoS 1/2 what is owed is what the broker accepted; a publish it refused (v5) or never
            // acknowledged is not waited for.
            var owed = result.TotalAccepted is { } accepted ? accepted * subscribersPerMessage : result.TotalExpected;
            var drainStart = Stopwatch.GetTimestamp();
            (result.TotalDelivered, result.DrainEnd) = await DrainAsync(subscribers, owed, acknowledged ? DrainLimit : DrainLimitQoS0, cancellationToken);
            result.DrainSeconds = Stopwatch.GetElapsedTime(drainStart).TotalSeconds;

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
            if (rss is not null)
            {
                result.BrokerRss = await rss.StopAsync();
                result.BrokerRssAfter = result.BrokerRss?.End;
            }
        }

        return result;
    }

    /// Waits until the subscribers have everything expected, nothing has arrived for a second, or the limit.
    private static async Task<(long Delivered, DrainEnd End)> DrainAsync(Subscriber[] subscribers, long expected, TimeSpan drainLimit, CancellationToken cancellationToken)
    {
        var limit = Stopwatch.GetTimestamp();
        var last = Sum(subscribers, static s => s.Received);
        var lastChange = Stopwatch.GetTimestamp();
        while (true)
        {
            if (last >= expected)
                return (last, DrainEnd.Complete);
            if (Stopwatch.GetElapsedTime(lastChange) >= DrainQuiet)
                return (last, DrainEnd.Quiet);
            if (Stopwatch.GetElapsedTime(limit) >= drainLimit)
                return (last, DrainEnd.Limit);
            await Task.Delay(20, cancellationToken);
            var now = Sum(subscribers, static s => s.Received);
            if (now != last)
            {
                last = now;
                lastChange = Stopwatch.GetTimestamp();
            }
        }
    }

    private static async Task DelayUntilAsync(long start, TimeSpan offset, CancellationToken cancellationToken)
    {
        var left = offset - Stopwatch.GetElapsedTime(start);
        if (left > TimeSpan.Zero)
            await Task.Delay(left, cancellationToken);
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
