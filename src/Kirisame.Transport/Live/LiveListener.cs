using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Kirisame.Broker;
using Kirisame.Transport.Listeners;
using Microsoft.Extensions.Logging;

namespace Kirisame.Transport.Live;

/// A TCP or TLS listener added while the server runs (ADR 0019). Kestrel cannot take endpoints after it has
/// started, so this is a socket accept loop of its own: each connection is admitted by the same
/// <see cref="ConnectionLimits"/>, wrapped in an SslStream for TLS (handshake under the MQTT connect
/// timeout), adapted to a duplex pipe and handed to the broker like any other. Stopping closes the listening
/// socket only: new connections are refused; established ones keep going until they end.
internal sealed class LiveListener : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly ConnectionLimits _limits;
    private readonly MqttConnectionHandler _handler;
    private readonly TimeSpan _handshakeTimeout;
    private readonly string? _securityListener;
    private readonly ILogger _logger;
    private readonly ThrottledWarning _handshakeFailures;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private long _connections;

    /// Binds now: a port in use throws SocketException, before anything is registered.
    public LiveListener(MqttListener listener, ConnectionLimits limits, MqttConnectionHandler handler, TimeSpan handshakeTimeout,
        string? securityListener, int backlog, ILogger logger)
    {
        Listener = listener;
        _limits = limits;
        _handler = handler;
        _handshakeTimeout = handshakeTimeout;
        _securityListener = securityListener;
        _logger = logger;
        _handshakeFailures = new ThrottledWarning(logger, $"Listener {listener.Name}: a TLS handshake did not complete",
            $"TLS handshakes that did not complete on listener {listener.Name}", TimeProvider.System, ThrottledWarning.DefaultInterval);
        var endPoint = listener.Options.EndPoint;
        _socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            _socket.Bind(endPoint);
            _socket.Listen(backlog);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }

        EndPoint = _socket.LocalEndPoint!;
        _accepting = AcceptAsync();
    }

    public MqttListener Listener { get; }

    public EndPoint EndPoint { get; }

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket accepted;
            try
            {
                accepted = await _socket.AcceptAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException ex)
            {
                // A connection reset before it was accepted, or out of descriptors: the loop goes on.
                _logger.LogDebug("Listener {Listener}: accept failed: {Message}", Listener.Name, ex.Message);
                continue;
            }

            _ = ServeAsync(accepted);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        var remote = socket.RemoteEndPoint;
        var refusal = _limits.TryAdmit(Listener, remote);
        if (refusal is not null)
        {
            _logger.LogDebug("Refused connection from {Remote} on {Listener}: {Why}", remote, Listener.Name, refusal);
            socket.Dispose();
            return;
        }

        try
        {
            socket.NoDelay = true;
            Stream stream = new NetworkStream(socket, ownsSocket: true);
            await using var _ = stream;
            string? certificateName = null;
            string? serverName = null;
            if (Listener.Tls is { } tls)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                using var timeout = new CancellationTokenSource(_handshakeTimeout);
                try
                {
                    await ssl.AuthenticateAsServerAsync(tls.CreateOptions(http: false), timeout.Token);
                }
                catch (Exception ex) when (ex is AuthenticationException or IOException or OperationCanceledException)
                {
                    _handshakeFailures.Report("handshake", $"from {remote}: {ex.Message}");
                    await ssl.DisposeAsync();
                    return;
                }

                certificateName = tls.IdentityOf(ssl.RemoteCertificate as X509Certificate2);
                serverName = ssl.TargetHostName is { Length: > 0 } name ? name : null; // SNI: may map to a tenant
            }

            await using var __ = stream;
            var info = new ConnectionInfo($"{Listener.Name}-{Interlocked.Increment(ref _connections)}", remote, socket.LocalEndPoint, Listener.Name)
            {
                CertificateName = certificateName,
                ServerName = serverName,
                SecurityListener = _securityListener ?? Listener.Name,
            };
            // The broker completes both ends as it closes, which closes the stream and with it the socket.
            await _handler.RunAsync(new StreamPipe(PipeReader.Create(stream), PipeWriter.Create(stream)), info, CancellationToken.None);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            _logger.LogDebug("Connection from {Remote} on {Listener} ended: {Message}", remote, Listener.Name, ex.Message);
        }
        finally
        {
            _limits.Release(Listener);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _socket.Dispose();
        await _accepting;
        _stop.Dispose();
    }

    private sealed class StreamPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
