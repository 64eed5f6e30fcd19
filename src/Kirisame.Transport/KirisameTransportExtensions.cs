using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;

namespace Kirisame.Transport;

public static class KirisameTransportExtensions
{
    /// Kestrel with the socket transport and one MQTT listener per options. The MqttBroker must be registered
    /// in the container; the host owns its lifetime.
    public static IWebHostBuilder UseKirisameTransport(this IWebHostBuilder builder, TransportOptions options)
    {
        var listeners = new MqttListeners();
        return builder
            .UseKestrelCore()
            .UseSockets(sockets =>
            {
                sockets.Backlog = options.Backlog;
                sockets.NoDelay = options.NoDelay;
            })
            .ConfigureServices(services => services.AddSingleton(listeners))
            .ConfigureKestrel(kestrel =>
            {
                kestrel.AddServerHeader = false;
                listeners.Add(kestrel.ListenMqtt(options.EndPoint));
            });
    }

    /// Adds an MQTT listener on endpoint to an existing Kestrel configuration.
    public static ListenOptions ListenMqtt(this KestrelServerOptions kestrel, IPEndPoint endPoint)
    {
        ListenOptions? added = null;
        kestrel.Listen(endPoint, listen =>
        {
            listen.UseConnectionHandler<MqttConnectionHandler>();
            added = listen;
        });
        return added!;
    }
}

/// The MQTT listeners Kestrel was told about. After start-up their endpoints hold the bound ports (port 0
/// becomes the one the OS chose), which is what the server logs.
public sealed class MqttListeners
{
    private readonly List<ListenOptions> _listeners = [];

    internal void Add(ListenOptions listener)
    {
        lock (_listeners)
            _listeners.Add(listener);
    }

    public IReadOnlyList<EndPoint> EndPoints
    {
        get
        {
            lock (_listeners)
                return [.. _listeners.Select(l => l.EndPoint)];
        }
    }
}
