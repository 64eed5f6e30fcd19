using Kirisame.Broker;
using Kirisame.Transport;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kirisame.Server;

/// Ties the broker to the host. The Starting/Stopping hooks run before any hosted service starts or stops,
/// so the broker is up before Kestrel accepts and says goodbye to clients (v5 DISCONNECT 0x8B) before
/// Kestrel tears the sockets down.
internal sealed partial class BrokerLifecycle(MqttBroker broker, MqttListeners listeners, ILogger<BrokerLifecycle> logger)
    : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        LogStarting(logger, KirisameCommand.Version);
        broker.Start();
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        foreach (var endPoint in listeners.EndPoints)
            LogListening(logger, endPoint);
        return Task.CompletedTask;
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        LogStopping(logger);
        await broker.StopAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        LogStopped(logger);
        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Kirisame {Version} starting")]
    private static partial void LogStarting(ILogger logger, string version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Listening for MQTT on {EndPoint}")]
    private static partial void LogListening(ILogger logger, System.Net.EndPoint endPoint);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shutting down: disconnecting clients")]
    private static partial void LogStopping(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopped")]
    private static partial void LogStopped(ILogger logger);
}
