using Kirisame.Broker;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Kirisame.Transport;

/// Terminal handler of a Kestrel listener: everything after the socket (framing, sessions) is the broker's.
internal sealed partial class MqttConnectionHandler(MqttBroker broker, ILogger<MqttConnectionHandler> logger) : ConnectionHandler
{
    public const string ListenerName = "tcp";

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var info = new ConnectionInfo(connection.ConnectionId, connection.RemoteEndPoint, connection.LocalEndPoint, ListenerName);
        LogAccepted(logger, connection.ConnectionId, connection.RemoteEndPoint);
        try
        {
            await broker.RunConnectionAsync(connection.Transport, info, connection.ConnectionClosed);
        }
        catch (OperationCanceledException) when (connection.ConnectionClosed.IsCancellationRequested)
        {
            // The socket went away first; nothing left to serve.
        }
        catch (Exception ex)
        {
            // Kestrel would log this too, but without saying which MQTT listener it came from.
            LogFailed(logger, ex, connection.ConnectionId);
        }
        finally
        {
            LogClosed(logger, connection.ConnectionId);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Connection {ConnectionId} accepted from {RemoteEndPoint}")]
    private static partial void LogAccepted(ILogger logger, string connectionId, System.Net.EndPoint? remoteEndPoint);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Connection {ConnectionId} closed")]
    private static partial void LogClosed(ILogger logger, string connectionId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Connection {ConnectionId} failed")]
    private static partial void LogFailed(ILogger logger, Exception exception, string connectionId);
}
