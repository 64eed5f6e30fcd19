using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kirisame.Broker;

/// The broker: one per process (or per test). Transports hand it connections as duplex pipes.
public sealed partial class MqttBroker : IAsyncDisposable
{
    private readonly ILogger _logger;

    public MqttBroker(BrokerOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        Options = options;
        LoggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        TimeProvider = timeProvider ?? TimeProvider.System;
        _logger = LoggerFactory.CreateLogger("Kirisame.Broker");
    }

    public BrokerOptions Options { get; }

    public ILoggerFactory LoggerFactory { get; }

    public TimeProvider TimeProvider { get; }

    /// Starts background work ($SYS publishing, session expiry).
    public void Start() => throw new NotImplementedException();

    /// Serves one client connection until it closes. Returns when the connection is finished with; the
    /// transport then closes the socket.
    public Task RunConnectionAsync(IDuplexPipe transport, ConnectionInfo info, CancellationToken cancellationToken)
        => throw new NotImplementedException();

    /// Graceful shutdown: v5 clients get DISCONNECT 0x8B, queued writes are flushed, connections closed.
    public Task StopAsync(CancellationToken cancellationToken) => throw new NotImplementedException();

    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None);
}
