using System.Net;
using Kirisame.Broker;
using Kirisame.Transport.Listeners;
using Kirisame.Transport.Live;
using Kirisame.Transport.Sockets;
using Kirisame.Transport.Tls;
using Kirisame.Transport.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kirisame.Transport;

public static class KirisameTransportExtensions
{
    /// Kestrel with the socket transport and one endpoint per listener: the default TCP listener (unless
    /// turned off) and each of <paramref name="listeners"/>. Plain and TLS listeners go straight from the
    /// connection pipeline to the broker; WebSocket listeners go through a minimal HTTP application. The
    /// MqttBroker must be registered in the container; the host owns its lifetime. <paramref name="storeDescriptors"/>
    /// is how many file descriptors the store may hold open at most: they are kept out of the connection budget.
    public static IWebHostBuilder UseKirisameTransport(this IWebHostBuilder builder, TransportOptions options,
        IReadOnlyList<ListenerOptions>? listeners = null, int storeDescriptors = 0)
    {
        var all = new List<ListenerOptions>();
        if (options.Enabled)
            all.Add(options.DefaultListener);
        all.AddRange(listeners ?? []);
        // Plain TCP listeners are served by our own socket transport unless Kestrel is asked for; TLS and
        // WebSocket listeners always go through Kestrel.
        var lean = all.Where(l => l.Protocol == ListenerProtocol.Mqtt && options.PlainTcpEngine != TcpEngine.Kestrel).ToList();
        var kestrelListeners = all.Except(lean).ToList();
        var bound = new MqttListeners();
        builder = builder
            .UseKestrelCore()
            .UseSockets(sockets =>
            {
                sockets.Backlog = options.Backlog;
                sockets.NoDelay = options.NoDelay;
                // MaxReadBufferSize stays at its 1 MiB: like WebSocketPipe's pause threshold it bounds what is read
                // ahead of the broker (bytes not yet examined), not the packet size (LargePacketTests).
            })
            .ConfigureServices(services =>
            {
                services.AddSingleton(bound);
                services.AddSingleton(options);
                services.AddSingleton(provider =>
                {
                    // The limit is read now, not assumed: the runtime has raised the soft limit as it started.
                    var logger = provider.GetRequiredService<ILoggerFactory>().CreateLogger("Kirisame.Transport.Limits");
                    var budget = ConnectionBudget.Compute(DescriptorLimit.Read(), options.MaxConnections, storeDescriptors);
                    budget.Log(logger);
                    return new ConnectionLimits(options, budget.MaxConnections, TimeProvider.System, logger);
                });
                services.AddSingleton<MqttConnectionHandler>();
                services.AddSingleton(provider => new LiveListeners(bound, provider.GetRequiredService<ConnectionLimits>(),
                    provider.GetRequiredService<MqttConnectionHandler>(), options, provider.GetRequiredService<MqttBroker>(),
                    provider.GetRequiredService<ILoggerFactory>()));
                if (lean.Count > 0)
                    services.AddHostedService(provider => new SocketTransport(lean, options, bound, provider));
                if (kestrelListeners.Count == 0)
                    services.AddSingleton<IServer, NoServer>(); // nothing for Kestrel: it must not bind its default
            })
            .ConfigureKestrel(kestrel =>
            {
                kestrel.AddServerHeader = false;
                var services = kestrel.ApplicationServices;
                var connectTimeout = services.GetRequiredService<MqttBroker>().Options.ConnectTimeout;
                // A WebSocket client that trickles its upgrade request is held to the same deadline as a TCP
                // client that trickles its CONNECT.
                kestrel.Limits.RequestHeadersTimeout = connectTimeout;
                kestrel.Limits.KeepAliveTimeout = connectTimeout;
                foreach (var listener in kestrelListeners)
                    bound.Add(Listen(kestrel, listener, services, connectTimeout));
            })
            .Configure(app =>
            {
                // Only WebSocket listeners reach the HTTP pipeline.
                var handler = app.ApplicationServices.GetRequiredService<MqttConnectionHandler>();
                app.UseWebSockets();
                app.Run(context => MqttWebSocketEndpoint.HandleAsync(context, handler));
            });
        return builder;
    }

    private const string HandshakeCompleted = "kirisame.tls.handshake-completed";

    private static (MqttListener, ListenOptions) Listen(KestrelServerOptions kestrel, ListenerOptions options, IServiceProvider services, TimeSpan handshakeTimeout)
    {
        var loggers = services.GetRequiredService<ILoggerFactory>();
        var tls = options.IsTls ? new TlsSettings(options, loggers.CreateLogger("Kirisame.Transport.Tls")) : null;
        var listener = new MqttListener(options, tls);
        var limits = services.GetRequiredService<ConnectionLimits>();
        var handler = services.GetRequiredService<MqttConnectionHandler>();
        var logger = loggers.CreateLogger("Kirisame.Transport.Limits");
        // A refused or failed TLS handshake (no or untrusted client certificate, an old TLS version, a timeout) is
        // logged by Kestrel at Debug only: operators saw nothing. Logged here, summed up once a minute in a flood.
        var handshakeFailures = tls is null ? null : new ThrottledWarning(loggers.CreateLogger("Kirisame.Transport.Tls"),
            $"Listener {options.Name}: a TLS handshake did not complete", $"TLS handshakes that did not complete on listener {options.Name}",
            TimeProvider.System, ThrottledWarning.DefaultInterval);
        ListenOptions? added = null;
        kestrel.Listen(options.EndPoint, listen =>
        {
            listen.Protocols = HttpProtocols.Http1;
            // Limits first: a refused connection costs no TLS handshake and no HTTP parsing.
            listen.Use(next => async connection =>
            {
                var refusal = limits.TryAdmit(listener, connection.RemoteEndPoint);
                if (refusal is not null)
                {
                    logger.LogDebug("Refused connection from {Remote} on {Listener}: {Why}", connection.RemoteEndPoint, listener.Name, refusal);
                    connection.Abort();
                    return;
                }

                try
                {
                    connection.Items[MqttListener.ItemKey] = listener;
                    await next(connection);
                }
                finally
                {
                    limits.Release(listener);
                    if (handshakeFailures is not null && !connection.Items.ContainsKey(HandshakeCompleted))
                    {
                        handshakeFailures.Report("handshake",
                            $"from {connection.RemoteEndPoint} (no or untrusted client certificate, a TLS version or cipher suite not offered, the client gave up, or the handshake timed out)");
                    }
                }
            });
            if (tls is not null)
            {
                listen.UseHttps(new TlsHandshakeCallbackOptions
                {
                    // The listener's current settings, not `tls`: PUT /api/v1/listeners/{name}/tls may have replaced them.
                    OnConnection = _ => ValueTask.FromResult(listener.Tls!.CreateOptions(http: options.IsWebSocket)),
                    HandshakeTimeout = handshakeTimeout,
                });
                // Reached only once the handshake has completed.
                listen.Use(next => connection =>
                {
                    connection.Items[HandshakeCompleted] = true;
                    return next(connection);
                });
            }

            if (!options.IsWebSocket)
                listen.Use(_ => connection => handler.OnConnectedAsync(connection, listener));
            added = listen;
        });
        return (listener, added!);
    }
}
