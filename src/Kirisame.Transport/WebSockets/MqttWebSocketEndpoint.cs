using Kirisame.Broker;
using Kirisame.Transport.Listeners;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Kirisame.Transport.WebSockets;

/// The HTTP application of WebSocket listeners: upgrades requests on the listener's path, picks the MQTT
/// subprotocol and hands the adapted connection to the broker.
internal static class MqttWebSocketEndpoint
{
    /// "mqtt" for 3.1.1 and 5.0 [MQTT-6.0.0-3], "mqttv3.1" for clients that speak 3.1.
    private static readonly string[] s_subProtocols = ["mqtt", "mqttv3.1"];

    public static async Task HandleAsync(HttpContext context, MqttConnectionHandler handler)
    {
        var items = context.Features.Get<IConnectionItemsFeature>()?.Items;
        if (items?.TryGetValue(MqttListener.ItemKey, out var value) != true || value is not MqttListener listener || !listener.Options.IsWebSocket)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        if (!string.Equals(context.Request.Path.Value, listener.Options.Path, StringComparison.Ordinal))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("MQTT over WebSockets: connect with a WebSocket client (subprotocol mqtt).\n");
            return;
        }

        var requested = context.WebSockets.WebSocketRequestedProtocols;
        // "mqtt" whenever the client offers it, whatever its order [MQTT-6.0.0-4]; "mqttv3.1" only for a client
        // that offers nothing else of ours. A client that offers no subprotocol at all is served without one:
        // some older browser libraries send none, and nothing is gained by refusing them.
        string? subProtocol = null;
        foreach (var protocol in requested)
        {
            if (string.Equals(protocol, s_subProtocols[0], StringComparison.OrdinalIgnoreCase))
            {
                subProtocol = protocol; // the client's own spelling: it checks the answer against its offer
                break;
            }

            if (subProtocol is null && s_subProtocols.Contains(protocol, StringComparer.OrdinalIgnoreCase))
                subProtocol = protocol;
        }

        if (requested.Count > 0 && subProtocol is null)
        {
            // The client asked for something else entirely; say so rather than speak MQTT at it.
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("Unsupported WebSocket subprotocol; use mqtt or mqttv3.1.\n");
            return;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync(subProtocol);
        var pipe = new WebSocketPipe(socket);
        var certificate = context.Features.Get<ITlsConnectionFeature>()?.ClientCertificate;
        var info = new Kirisame.Broker.ConnectionInfo(context.Connection.Id, RemoteEndPoint(context), LocalEndPoint(context), listener.Name)
        {
            CertificateName = listener.Tls?.IdentityOf(certificate),
            ServerName = listener.Tls is null ? null : NonEmpty(context.Features.Get<ITlsHandshakeFeature>()?.HostName), // SNI: may map to a tenant
        };
        var served = handler.RunAsync(pipe, info, context.RequestAborted);
        await pipe.RunAsync(served, context.RequestAborted);
    }

    private static string? NonEmpty(string? name) => string.IsNullOrEmpty(name) ? null : name;

    private static System.Net.IPEndPoint? RemoteEndPoint(HttpContext context) =>
        context.Connection.RemoteIpAddress is { } address ? new(address, context.Connection.RemotePort) : null;

    private static System.Net.IPEndPoint? LocalEndPoint(HttpContext context) =>
        context.Connection.LocalIpAddress is { } address ? new(address, context.Connection.LocalPort) : null;
}
