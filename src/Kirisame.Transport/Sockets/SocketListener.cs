using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Kirisame.Broker;
using Kirisame.Transport.Listeners;
using Microsoft.Extensions.Logging;

namespace Kirisame.Transport.Sockets;

/// A plain MQTT-over-TCP listener served without Kestrel: an accept loop on a listening socket, each
/// accepted socket admitted by the connection limits and handed to the broker as a <see cref="SocketPipe"/>.
internal sealed partial class SocketListener(
    MqttListener listener, TransportOptions transport, ConnectionLimits limits, MqttBroker broker, EpollEngine? engine, ILogger logger)
{
    private Socket? _socket;
    private Task _accepting = Task.CompletedTask;
    private int _open;
    private long _nextId;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;

    public MqttListener Listener => listener;

    /// The bound endpoint (port 0 resolved), once started.
    public EndPoint? EndPoint { get; private set; }

    /// Binds and starts accepting. Throws (SocketException) when the address cannot be bound.
    public void Start()
    {
        var endPoint = listener.Options.EndPoint;
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.Address.Equals(IPAddress.IPv6Any))
                socket.DualMode = true;
            // Like Kestrel: a restarted broker can bind while old connections linger in TIME_WAIT.
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(endPoint);
            socket.Listen(transport.Backlog);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        _socket = socket;
        EndPoint = socket.LocalEndPoint;
        _accepting = AcceptLoopAsync(socket);
    }

    private async Task AcceptLoopAsync(Socket socket)
    {
        while (!_stopping)
        {
            Socket accepted;
            try
            {
                accepted = await socket.AcceptAsync();
            }
            catch (Exception ex) when (ex is ObjectDisposedException || (ex is SocketException && _stopping))
            {
                return;
            }
            catch (SocketException ex)
            {
                // Out of file descriptors, a connection reset before accept, and the like: keep listening.
                LogAcceptFailed(logger, listener.Name, ex.SocketErrorCode);
                if (ex.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
                    await Task.Delay(10);
                continue;
            }

            Serve(accepted);
        }
    }

    /// Admits the socket and starts the broker's connection on it. Nothing here waits for the connection:
    /// the pipe closes the socket once the broker has completed both halves, and calls <see cref="Closed"/>.
    private void Serve(Socket socket)
    {
        var remote = socket.RemoteEndPoint;
        var refusal = limits.TryAdmit(listener, remote);
        if (refusal is not null)
        {
            LogRefused(logger, remote, listener.Name, refusal);
            socket.Dispose();
            return;
        }

        Interlocked.Increment(ref _open);
        SocketPipe? pipe = null;
        EpollConnection? epoll = null;
        try
        {
            socket.NoDelay = transport.NoDelay;
            var info = new ConnectionInfo($"{listener.Name}-{Interlocked.Increment(ref _nextId)}", remote, socket.LocalEndPoint, listener.Name);
            IDuplexPipe transportPipe;
            if (engine is not null)
            {
                // The descriptor leaves the Socket (which would otherwise close it) for the epoll engine.
                var fd = (int)socket.SafeHandle.DangerousGetHandle();
                socket.SafeHandle.SetHandleAsInvalid();
#pragma warning disable CA1816 // the Socket gave up its descriptor: there is nothing left for its finalizer to close
                GC.SuppressFinalize(socket);
#pragma warning restore CA1816
                epoll = new EpollConnection(fd, engine, this);
                engine.Register(epoll);
                transportPipe = epoll;
            }
            else
            {
                pipe = new SocketPipe(socket, this);
                transportPipe = pipe;
            }

            LogAccepted(logger, info.ConnectionId, listener.Name, remote);
            var running = broker.RunConnectionAsync(transportPipe, info, CancellationToken.None);
            if (running.IsCompleted)
                Close(pipe, epoll); // refused (the broker is stopping), or over already
        }
        catch (Exception ex)
        {
            if (ex is not (SocketException or ObjectDisposedException))
                LogFailed(logger, ex, listener.Name);
            if (pipe is null && epoll is null)
            {
                socket.Dispose();
                Closed();
            }
            else
            {
                Close(pipe, epoll);
            }
        }
    }

    private static void Close(SocketPipe? pipe, EpollConnection? epoll)
    {
        pipe?.Close();
        epoll?.Close();
    }

    /// A connection of this listener has closed.
    internal void Closed()
    {
        limits.Release(listener);
        if (Interlocked.Decrement(ref _open) == 0 && _stopping)
            _drained.TrySetResult();
    }

    /// Stops accepting, then waits (up to the token) for the connections still open to finish; the broker
    /// has asked them to close before the host stops transports.
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        _socket?.Dispose();
        await _accepting;
        if (Volatile.Read(ref _open) == 0)
            return;
        try
        {
            await _drained.Task.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Listener {Listener}: accept failed ({Error})")]
    private static partial void LogAcceptFailed(ILogger logger, string listener, SocketError error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Connection {ConnectionId} accepted on {Listener} from {RemoteEndPoint}")]
    private static partial void LogAccepted(ILogger logger, string connectionId, string listener, EndPoint? remoteEndPoint);

    [LoggerMessage(Level = LogLevel.Error, Message = "Listener {Listener}: a connection failed to start")]
    private static partial void LogFailed(ILogger logger, Exception exception, string listener);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Refused connection from {Remote} on {Listener}: {Why}")]
    private static partial void LogRefused(ILogger logger, EndPoint? remote, string listener, string why);
}
