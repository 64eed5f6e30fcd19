using System.Globalization;
using System.Text;
using Kirisame.Broker;
using Kirisame.Broker.Clients;
using Kirisame.Protocol;
using Kirisame.Transport;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kirisame.Sample.Embedded;

/// The application's part: an in-process client that keeps the target temperature on a retained topic and takes
/// new targets from `thermostat/set`, refusing what is not a number between 5 and 30.
internal sealed partial class Thermostat(MqttBroker broker, MqttListeners listeners, ILogger<Thermostat> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await using var client = await InProcessClient.ConnectAsync(broker, new InProcessClientOptions { ClientId = "thermostat" }, stoppingToken);
        await client.SubscribeAsync("thermostat/set", QualityOfService.AtLeastOnce);
        await SetTargetAsync(client, 20, stoppingToken);
        foreach (var (_, _, _, endPoint) in listeners.Bound)
            LogListening(logger, endPoint);

        try
        {
            await foreach (var message in client.ReadAllAsync(stoppingToken))
            {
                var text = Encoding.UTF8.GetString(message.Payload.Span);
                if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var target) && target is >= 5 and <= 30)
                    await SetTargetAsync(client, target, stoppingToken);
                else
                    LogRefused(logger, text);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping.
        }
    }

    private async Task SetTargetAsync(InProcessClient client, double target, CancellationToken cancellationToken)
    {
        var text = target.ToString(CultureInfo.InvariantCulture);
        await client.PublishAsync("thermostat/target", Encoding.UTF8.GetBytes(text), QualityOfService.AtLeastOnce, retain: true, cancellationToken: cancellationToken);
        LogTarget(logger, text);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Thermostat listening for MQTT on {EndPoint}")]
    private static partial void LogListening(ILogger logger, System.Net.EndPoint endPoint);

    [LoggerMessage(Level = LogLevel.Information, Message = "Target temperature: {Target}")]
    private static partial void LogTarget(ILogger logger, string target);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused target '{Text}': not a number between 5 and 30")]
    private static partial void LogRefused(ILogger logger, string text);
}
