using Kirisame.Native;
using Kirisame.Transport.Listeners;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kirisame.Transport.Sockets;

/// Runs the plain TCP listeners that <see cref="SocketListener"/> serves, for the host's lifetime. They bind
/// when the host starts (after the broker's start hook) and stop after the broker has closed its connections.
internal sealed class SocketTransport : IHostedService, IDisposable
{
    private readonly List<SocketListener> _listeners = [];
    private readonly EpollEngine? _engine;

    public SocketTransport(IReadOnlyList<ListenerOptions> listeners, TransportOptions options, MqttListeners bound, IServiceProvider services)
    {
        var limits = services.GetRequiredService<ConnectionLimits>();
        var broker = services.GetRequiredService<Kirisame.Broker.MqttBroker>();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Kirisame.Transport.Sockets");
        if (options.PlainTcpEngine == TcpEngine.Epoll)
        {
            if (Epoll.IsSupported)
                _engine = new EpollEngine();
            else
                logger.LogInformation("Transport:PlainTcpEngine Epoll needs Linux on x86-64; using Sockets");
        }

        foreach (var listenerOptions in listeners)
        {
            var listener = new SocketListener(new MqttListener(listenerOptions, tls: null), options, limits, broker, _engine, logger);
            _listeners.Add(listener);
            bound.Add(listener.Listener, () => listener.EndPoint);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            foreach (var listener in _listeners)
                listener.Start();
        }
        catch (System.Net.Sockets.SocketException ex)
        {
            // Reported like Kestrel's bind failures: the server names the address and exits non-zero.
            var failed = _listeners.First(l => l.EndPoint is null);
            throw new IOException($"Failed to bind to address {failed.Listener.Options.EndPoint}: {ex.Message}", ex);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(_listeners.Select(listener => listener.StopAsync(cancellationToken)));

    public void Dispose() => _engine?.Dispose();
}

/// The IServer when every listener is served by the socket transport: Kestrel, given no endpoints, would
/// bind its own default (localhost:5000).
internal sealed class NoServer : IServer
{
    public IFeatureCollection Features { get; } = new FeatureCollection();

    public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken) where TContext : notnull =>
        Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
    }
}
