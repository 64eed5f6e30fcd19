using System.IO.Pipelines;
using System.Net;
using Kirisame.Broker;
using Kirisame.Transport.Listeners;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace Kirisame.Transport;

/// Hands connections to the broker: everything after the socket (framing, sessions) is the broker's. Plain
/// and TLS connections arrive from Kestrel's connection pipeline; WebSocket ones from the HTTP pipeline,
/// already adapted to a duplex pipe.
internal sealed partial class MqttConnectionHandler(MqttBroker broker, ILogger<MqttConnectionHandler> logger)
{
    /// Terminal of a TCP or TLS listener's connection pipeline.
    public Task OnConnectedAsync(ConnectionContext connection, MqttListener listener)
    {
        var certificate = connection.Features.Get<ITlsConnectionFeature>()?.ClientCertificate;
        var info = new ConnectionInfo(connection.ConnectionId, connection.RemoteEndPoint, connection.LocalEndPoint, listener.Name)
        {
            CertificateName = listener.Tls?.IdentityOf(certificate),
            // The TLS server name the client asked for (SNI), which may map it to a tenant (docs/adr/0021-tenants.md).
            ServerName = connection.Features.Get<ITlsHandshakeFeature>()?.HostName is { Length: > 0 } serverName ? serverName : null,
        };
        return RunAsync(connection.Transport, info, connection.ConnectionClosed);
    }

    public async Task RunAsync(IDuplexPipe transport, ConnectionInfo info, CancellationToken closed)
    {
        LogAccepted(logger, info.ConnectionId, info.Listener, info.RemoteEndPoint);
        try
        {
            await broker.RunConnectionAsync(transport, info, closed);
        }
        catch (OperationCanceledException) when (closed.IsCancellationRequested)
        {
            // The socket went away first; nothing left to serve.
        }
        catch (Exception ex)
        {
            // Kestrel would log this too, but without saying which MQTT listener it came from.
            LogFailed(logger, ex, info.ConnectionId, info.Listener);
        }
        finally
        {
            LogClosed(logger, info.ConnectionId);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Connection {ConnectionId} accepted on {Listener} from {RemoteEndPoint}")]
    private static partial void LogAccepted(ILogger logger, string connectionId, string listener, EndPoint? remoteEndPoint);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Connection {ConnectionId} closed")]
    private static partial void LogClosed(ILogger logger, string connectionId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Connection {ConnectionId} on {Listener} failed")]
    private static partial void LogFailed(ILogger logger, Exception exception, string connectionId, string listener);
}
