using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Kirisame.Broker;
using Kirisame.Broker.Clients;
using Kirisame.MqttSn.Codec;
using Kirisame.MqttSn.Diagnostics;
using Kirisame.Protocol;
using Microsoft.Extensions.Logging;

namespace Kirisame.MqttSn.Gateway;

/// The MQTT-SN 1.2 gateway (docs/adr/0015): one UDP socket, one receive loop, a table of clients by source
/// address. It is a transparent gateway (MQTT-SN 1.2 §4.2.1) inside the broker: each MQTT-SN client is its own
/// broker session through the in-process client API.
public sealed partial class MqttSnGateway : IAsyncDisposable
{
    /// A datagram can hold at most this many bytes (UDP over IPv4: 65,507; the MQTT-SN length field allows 65,535).
    private const int ReceiveBufferSize = 65_536;

    private readonly ConcurrentDictionary<SocketAddress, SnClient> _clients = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly SnLogThrottle _throttle;
    private Socket? _socket;
    private Task _loops = Task.CompletedTask;
    private int _connecting;

    /// The gateway's own session, which publishes QoS −1 messages (§6.8: no connection, no session of their own).
    private InProcessClient? _anonymous;

    public MqttSnGateway(MqttBroker broker, MqttSnOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(broker);
        ArgumentNullException.ThrowIfNull(options);
        Broker = broker;
        Options = options;
        Time = broker.TimeProvider;
        Logger = (loggerFactory ?? broker.LoggerFactory).CreateLogger("Kirisame.MqttSn");
        Predefined = new PredefinedTopics(options.Predefined);
        Metrics = new MqttSnMetrics(CountClients);
        _throttle = new SnLogThrottle(Time, Logger);
    }

    /// The bound UDP address (with the port the system chose when MqttSn:Port is 0); null until started.
    public IPEndPoint? LocalEndPoint => _socket?.LocalEndPoint as IPEndPoint;

    internal MqttBroker Broker { get; }

    /// The core MQTT-SN clients are served in: the broker's, or that of the configured tenant (null while it does not
    /// exist).
    internal MqttBroker? Core => Options.Tenant is { } tenant ? Broker.Tenants?.Find(tenant) : Broker;

    internal MqttSnOptions Options { get; }

    internal TimeProvider Time { get; }

    internal ILogger Logger { get; }

    internal PredefinedTopics Predefined { get; }

    internal MqttSnMetrics Metrics { get; }

    /// Binds the socket and starts serving. Throws <see cref="InvalidOperationException"/> naming the address when
    /// it cannot be bound.
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        var socket = new Socket(Options.EndPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.Bind(Options.EndPoint);
            // A full send buffer drops the datagram (counted) instead of stalling the receive loop: UDP may lose it anyway.
            socket.Blocking = false;
            socket.EnableBroadcast = Options.AdvertiseEndPoint is { } advertise && advertise.Address.Equals(IPAddress.Broadcast);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new InvalidOperationException($"MQTT-SN: cannot listen on udp://{Options.EndPoint}: {ex.Message}", ex);
        }

        _socket = socket;
        if (Core is { } core)
        {
            _anonymous = await InProcessClient.ConnectAsync(core, new InProcessClientOptions
            {
                ClientId = $"kirisame-mqttsn-gateway-{Options.GatewayId}",
                UserName = Options.UserName,
                Listener = Options.Listener,
            }, cancellationToken);
        }
        else
        {
            LogNoTenant(Logger, Options.Tenant!);
        }

        _loops = Task.WhenAll(ReceiveLoopAsync(socket), SweepLoopAsync(), AdvertiseLoopAsync());
        LogListening(Logger, LocalEndPoint!, Options.GatewayId);
    }

    /// Stops serving: MQTT-SN clients are disconnected without their wills, as the broker does at shutdown.
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_stopping.IsCancellationRequested)
            return;
        await _stopping.CancelAsync();
        _socket?.Dispose();
        try
        {
            await _loops.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }

        foreach (var client in _clients.Values)
            client.Close(publishWill: false);
        if (_anonymous is not null)
            await _anonymous.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Metrics.Dispose();
        _stopping.Dispose();
    }

    private async Task ReceiveLoopAsync(Socket socket)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(ReceiveBufferSize, pinned: true);
        var from = new SocketAddress(socket.AddressFamily);
        while (!_stopping.IsCancellationRequested)
        {
            int length;
            try
            {
                length = await socket.ReceiveFromAsync(buffer, SocketFlags.None, from, _stopping.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                // e.g. an ICMP error for an earlier send: nothing to do with the next datagram.
                LogReceiveError(Logger, ex.SocketErrorCode);
                continue;
            }

            Metrics.DatagramReceived();
            try
            {
                Dispatch(buffer.AsMemory(0, length), from);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // A bug handling one datagram must not stop the gateway for every client.
                Interlocked.Increment(ref Broker.Statistics.ConnectionFaults);
                LogDispatchFault(Logger, ex, from.ToString());
            }
        }
    }

    private void Dispatch(ReadOnlyMemory<byte> datagram, SocketAddress from)
    {
        var error = SnFrame.TryRead(datagram.Span, out var type, out _);
        if (error != SnDecodeError.None)
        {
            Metrics.Dropped(SnDropReason.Malformed);
            Throttled("malformed", SnAddress.ToEndPoint(from), $"malformed datagram ({error}, {datagram.Length} bytes)");
            return;
        }

        var body = datagram[SnFrame.HeaderLengthOf(datagram.Span)..];
        switch (type)
        {
            case SnMessageType.SearchGw:
                AnswerSearch(body.Span, from);
                return;
            case SnMessageType.Connect:
                Connect(body.Span, from);
                return;
            case SnMessageType.Publish when _clients.IsEmpty || !_clients.ContainsKey(from):
                PublishWithoutConnection(body, from);
                return;
        }

        if (_clients.TryGetValue(from, out var client))
        {
            client.Handle(type, body);
            return;
        }

        Metrics.Dropped(SnDropReason.UnknownClient);
        Throttled("unknown client", SnAddress.ToEndPoint(from), $"{type} from an address with no MQTT-SN connection");
    }

    internal void Malformed(SnMessageType type, IPEndPoint from)
    {
        Metrics.Dropped(SnDropReason.Malformed);
        Throttled("malformed", from, $"malformed {type}");
    }

    internal void Throttled(string kind, IPEndPoint from, string what) => _throttle.Log(kind, from, what);

    /// Sends a datagram now; UDP's loss is the client's to recover from (retransmission), so a failure is counted.
    internal void Send(ReadOnlySpan<byte> message, SocketAddress to)
    {
        var socket = _socket;
        if (socket is null)
            return;
        try
        {
            socket.SendTo(message, SocketFlags.None, to);
            Metrics.DatagramSent();
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            Metrics.SendFailed();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT-SN: tenant '{Tenant}' does not exist: QoS -1 messages are dropped and clients refused (congestion) until it does")]
    private static partial void LogNoTenant(ILogger logger, string tenant);

    [LoggerMessage(Level = LogLevel.Information, Message = "Listening for MQTT-SN on udp://{EndPoint} (gateway id {GatewayId})")]
    private static partial void LogListening(ILogger logger, IPEndPoint endPoint, int gatewayId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "MQTT-SN receive error {Error}")]
    private static partial void LogReceiveError(ILogger logger, SocketError error);

    [LoggerMessage(Level = LogLevel.Error, Message = "MQTT-SN: handling a datagram from {Address} failed")]
    private static partial void LogDispatchFault(ILogger logger, Exception exception, string address);
}
