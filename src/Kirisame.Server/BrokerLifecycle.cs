using Kirisame.Broker;
using Kirisame.Transport;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kirisame.Server;

/// Ties the broker to the host. The Starting/Stopping hooks run before any hosted service starts or stops,
/// so the broker is up before Kestrel accepts and says goodbye to clients (v5 DISCONNECT 0x8B) before
/// Kestrel tears the sockets down.
/// Bridges start once the listeners are bound and stop before the broker does.
internal sealed partial class BrokerLifecycle(MqttBroker broker, MqttListeners listeners, StartupSummary summary, Bridges.BridgeHost bridges,
    ILoggerFactory loggers, ILogger<BrokerLifecycle> logger)
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
        foreach (var (name, protocol, path, endPoint) in listeners.Bound)
            LogListening(logger, protocol.ToString().ToLowerInvariant(), endPoint, path ?? "", name);
        LogReady(logger, summary.Describe(KirisameCommand.Version,
            listeners.Bound.Select(l => (l.Name, l.Protocol.ToString().ToLowerInvariant(), $"{l.EndPoint}{l.Path}"))));
        bridges.Start(broker, loggers);
        return Task.CompletedTask;
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        LogStopping(logger);
        await bridges.StopAsync(cancellationToken);
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Listening for MQTT on {Scheme}://{EndPoint}{Path} (listener {Listener})")]
    private static partial void LogListening(ILogger logger, string scheme, System.Net.EndPoint endPoint, string path, string listener);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Summary}")]
    private static partial void LogReady(ILogger logger, string summary);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shutting down: disconnecting clients")]
    private static partial void LogStopping(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopped")]
    private static partial void LogStopped(ILogger logger);
}
