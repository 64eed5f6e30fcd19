using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Kirisame.Broker;
using Kirisame.Native;
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
    private EpollAcceptor? _acceptor;
    private int _open;
    private long _nextId;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ThrottledWarning _acceptFailures = new(logger, $"Listener {listener.Name}: accept failed",
        $"failed accepts on listener {listener.Name}", TimeProvider.System, ThrottledWarning.DefaultInterval);
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
            // Like Kestrel: a restarted broker can bind while old connections linger in TIME_WAIT. Only
            // SO_REUSEADDR: .NET's ReuseAddress also sets SO_REUSEPORT on Linux, which let a second broker bind the
            // same port and take half the clients, instead of failing to start.
            AllowRebindDuringTimeWait(socket);
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
        if (engine is not null)
            _acceptor = new EpollAcceptor(socket, engine, ServeAccepted, errno =>
                _acceptFailures.Report(errno.ToString(CultureInfo.InvariantCulture), $"{EpollAcceptor.Describe(errno)}; retrying every {EpollAcceptor.Backoff.TotalMilliseconds} ms"));
        else
            _accepting = AcceptLoopAsync(socket);
    }

    private static unsafe void AllowRebindDuringTimeWait(Socket socket)
    {
        if (!OperatingSystem.IsLinux())
        {
            // Elsewhere ReuseAddress is the one option (Windows: exclusive use is the default for listeners).
            if (!OperatingSystem.IsWindows())
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            return;
        }

        var on = 1;
        if (Epoll.SetOption((int)socket.SafeHandle.DangerousGetHandle(), Epoll.SolSocket, Epoll.SoReuseAddr, &on, sizeof(int)) != 0)
            throw new SocketException(System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
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
                // Out of resources, accepting again at once would fail again: back off (as the epoll
                // acceptor does) while connections close. Either way the log gets one line a minute.
                var outOfResources = ex.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable;
                _acceptFailures.Report(ex.SocketErrorCode.ToString(),
                    outOfResources ? $"{ex.SocketErrorCode}; retrying every {EpollAcceptor.Backoff.TotalMilliseconds} ms" : ex.SocketErrorCode.ToString());
                if (outOfResources)
                    await Task.Delay(EpollAcceptor.Backoff);
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
        if (!Admit(remote))
        {
            socket.Dispose();
            return;
        }

        SocketPipe? pipe = null;
        try
        {
            socket.NoDelay = transport.NoDelay;
            pipe = new SocketPipe(socket, this);
            Start(pipe, remote, socket.LocalEndPoint);
        }
        catch (Exception ex)
        {
            Failed(ex);
            if (pipe is null)
            {
                socket.Dispose();
                Closed();
            }
            else
            {
                pipe.Close();
            }
        }
    }

    /// The epoll engine's path: <paramref name="fd"/> was just accepted (non-blocking), on the epoll thread.
    private unsafe void ServeAccepted(int fd, EndPoint? remote)
    {
        if (!Admit(remote))
        {
            Epoll.Close(fd);
            return;
        }

        EpollConnection? connection = null;
        try
        {
            var noDelay = transport.NoDelay ? 1 : 0;
            Epoll.SetOption(fd, Epoll.IpProtoTcp, Epoll.TcpNoDelay, &noDelay, sizeof(int));
            connection = new EpollConnection(fd, engine!, this);
            engine!.Register(connection, fd);
            Start(connection, remote, EndPoint);
        }
        catch (Exception ex)
        {
            Failed(ex);
            if (connection is null)
            {
                Epoll.Close(fd);
                Closed();
            }
            else
            {
                connection.Close();
            }
        }
    }

    private bool Admit(EndPoint? remote)
    {
        var refusal = limits.TryAdmit(listener, remote);
        if (refusal is not null)
        {
            LogRefused(logger, remote, listener.Name, refusal);
            return false;
        }

        Interlocked.Increment(ref _open);
        return true;
    }

    private void Start(IDuplexPipe pipe, EndPoint? remote, EndPoint? local)
    {
        var info = new ConnectionInfo($"{listener.Name}-{Interlocked.Increment(ref _nextId)}", remote, local, listener.Name);
        LogAccepted(logger, info.ConnectionId, listener.Name, remote);
        var running = broker.RunConnectionAsync(pipe, info, CancellationToken.None);
        if (running.IsCompleted)
            throw new OperationCanceledException(); // refused (the broker is stopping), or over already: close
    }

    private void Failed(Exception ex)
    {
        if (ex is not (SocketException or ObjectDisposedException or OperationCanceledException or IOException))
            LogFailed(logger, ex, listener.Name);
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
        if (_acceptor is not null)
            _acceptor.Stop();
        else
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

    [LoggerMessage(Level = LogLevel.Debug, Message = "Connection {ConnectionId} accepted on {Listener} from {RemoteEndPoint}")]
    private static partial void LogAccepted(ILogger logger, string connectionId, string listener, EndPoint? remoteEndPoint);

    [LoggerMessage(Level = LogLevel.Error, Message = "Listener {Listener}: a connection failed to start")]
    private static partial void LogFailed(ILogger logger, Exception exception, string listener);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Refused connection from {Remote} on {Listener}: {Why}")]
    private static partial void LogRefused(ILogger logger, EndPoint? remote, string listener, string why);
}
