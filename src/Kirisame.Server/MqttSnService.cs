using Kirisame.Broker;
using Kirisame.MqttSn;
using Kirisame.MqttSn.Gateway;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kirisame.Server;

/// Hosts the MQTT-SN gateway (MqttSn:Enabled): bound after the broker starts, stopped before the broker says
/// goodbye to its clients (registered after BrokerLifecycle, whose hooks run in reverse order when stopping).
internal sealed class MqttSnService(MqttBroker broker, MqttSnOptions options, ILoggerFactory loggers) : IHostedLifecycleService, IAsyncDisposable
{
    private readonly MqttSnGateway _gateway = new(broker, options, loggers);

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => _gateway.StartAsync(cancellationToken);

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => _gateway.StopAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public ValueTask DisposeAsync() => _gateway.DisposeAsync();
}
