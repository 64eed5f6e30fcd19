using System.Globalization;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Security.Campaign;

/// The well-behaved client of the campaign: a publisher sends QoS 1 messages numbered 0, 1, 2… on one topic
/// to a subscriber for the whole run. Every message the broker acknowledged must reach the subscriber, once
/// and in order.
internal sealed class SteadyTraffic(MqttNetClient publisher, MqttNetClient subscriber, string topic) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task? _publishing;
    private int _acknowledged;

    public string? Failure { get; private set; }

    public int Acknowledged => Volatile.Read(ref _acknowledged);

    public int Received => subscriber.Messages.Count;

    public void Start() => _publishing = Task.Run(async () =>
    {
        for (var sequence = 0; !_stop.IsCancellationRequested; sequence++)
        {
            try
            {
                await publisher.PublishAsync(topic, sequence.ToString(CultureInfo.InvariantCulture), MqttQualityOfServiceLevel.AtLeastOnce);
            }
            catch (Exception ex)
            {
                Failure = $"the steady publisher's message {sequence} was not acknowledged: {ex.GetType().Name}: {ex.Message}";
                return;
            }
            Interlocked.Increment(ref _acknowledged);
            await Task.Delay(10); // the steady client's pace, not a wait for a condition
        }
    });

    /// Stops publishing, waits for the acknowledged messages to arrive, and says what is missing, duplicated
    /// or out of order (null when nothing is).
    public async Task<string?> StopAndCheckAsync()
    {
        await _stop.CancelAsync();
        if (_publishing is not null)
            await _publishing;
        if (Failure is not null)
            return Failure;
        var acknowledged = Acknowledged;
        await Kirisame.Testing.Poll.UntilAsync(() => subscriber.Messages.Count >= acknowledged, MqttNetClient.Timeout);
        var received = subscriber.Messages.Select(m => int.Parse(m.Payload, CultureInfo.InvariantCulture)).ToList();
        for (var i = 0; i < received.Count; i++)
        {
            if (received[i] != i)
                return $"the subscriber's message {i} is number {received[i]}: {string.Join(",", received.Skip(Math.Max(0, i - 5)).Take(12))}";
        }
        if (received.Count < acknowledged)
            return $"the broker acknowledged {acknowledged} messages, the subscriber received {received.Count}";
        if (!publisher.Client.IsConnected || !subscriber.Client.IsConnected)
            return "a steady client was disconnected";
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_publishing is not null)
            await _publishing;
        _stop.Dispose();
        await publisher.DisposeAsync();
        await subscriber.DisposeAsync();
    }
}
