using System.Runtime.CompilerServices;
using Kirisame.Broker;
using Kirisame.Broker.Admin;
using Microsoft.Extensions.Hosting;

namespace Kirisame.Management.Api;

/// Message rates for the overview: the broker's totals sampled every few seconds, a minute of them kept, and a
/// rate taken between the oldest kept sample and now. A rate needs two readings, and the admin seam gives totals.
/// Each tenant's core is sampled too, for the overview of one tenant (?tenant=): its samples are kept with its admin
/// surface (the core), so a removed tenant's go with it, and a tenant added back (a new core) starts afresh.
internal sealed class RateSampler(MqttBroker broker, TimeProvider time) : BackgroundService
{
    private static readonly TimeSpan s_interval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_window = TimeSpan.FromMinutes(1);

    private readonly ConditionalWeakTable<IBrokerAdmin, Queue<Sample>> _samples = new();

    private readonly record struct Sample(long Ticks, long Received, long Sent, long Dropped);

    /// The rates of the core <paramref name="admin"/> belongs to (the default tenant's or a tenant's).
    public Rates Measure(IBrokerAdmin admin, BrokerOverview now)
    {
        var ticks = time.GetTimestamp();
        Sample oldest;
        var samples = _samples.GetOrCreateValue(admin);
        lock (samples)
        {
            if (samples.Count == 0)
                return new Rates(0, 0, 0, 0);
            oldest = samples.Peek();
        }

        var seconds = time.GetElapsedTime(oldest.Ticks, ticks).TotalSeconds;
        if (seconds <= 0)
            return new Rates(0, 0, 0, 0);
        return new Rates(Round((now.MessagesReceived - oldest.Received) / seconds), Round((now.MessagesSent - oldest.Sent) / seconds),
            Round((now.MessagesDropped - oldest.Dropped) / seconds), Math.Round(seconds, 1));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Take();
        using var timer = new PeriodicTimer(s_interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
                Take();
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // stopping
        }
    }

    private void Take()
    {
        Take(broker.Admin);
        foreach (var name in broker.Tenants?.Names ?? [])
        {
            if (broker.Tenants!.Find(name) is { } tenant)
                Take(tenant.Admin);
        }
    }

    private void Take(IBrokerAdmin admin)
    {
        var overview = admin.GetOverview();
        var sample = new Sample(time.GetTimestamp(), overview.MessagesReceived, overview.MessagesSent, overview.MessagesDropped);
        var samples = _samples.GetOrCreateValue(admin);
        lock (samples)
        {
            samples.Enqueue(sample);
            while (samples.Count > 1 && time.GetElapsedTime(samples.Peek().Ticks, sample.Ticks) > s_window)
                samples.Dequeue();
        }
    }

    private static double Round(double value) => Math.Round(value, 2);
}
