using Kirisame.Broker.Admin;
using Microsoft.Extensions.Hosting;

namespace Kirisame.Management.Api;

/// Message rates for the overview: the broker's totals sampled every few seconds, a minute of them kept, and a
/// rate taken between the oldest kept sample and now. A rate needs two readings, and the admin seam gives totals.
internal sealed class RateSampler(IBrokerAdmin admin, TimeProvider time) : BackgroundService
{
    private static readonly TimeSpan s_interval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_window = TimeSpan.FromMinutes(1);

    private readonly Queue<Sample> _samples = new();

    private readonly record struct Sample(long Ticks, long Received, long Sent, long Dropped);

    public Rates Measure(BrokerOverview now)
    {
        var ticks = time.GetTimestamp();
        Sample oldest;
        lock (_samples)
        {
            if (_samples.Count == 0)
                return new Rates(0, 0, 0, 0);
            oldest = _samples.Peek();
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
        var overview = admin.GetOverview();
        var sample = new Sample(time.GetTimestamp(), overview.MessagesReceived, overview.MessagesSent, overview.MessagesDropped);
        lock (_samples)
        {
            _samples.Enqueue(sample);
            while (_samples.Count > 1 && time.GetElapsedTime(_samples.Peek().Ticks, sample.Ticks) > s_window)
                _samples.Dequeue();
        }
    }

    private static double Round(double value) => Math.Round(value, 2);
}
