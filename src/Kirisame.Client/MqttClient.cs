using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Threading.Channels;
using Kirisame.Protocol;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;

namespace Kirisame.Client;

/// One MQTT connection to a server, over TCP, TLS or WebSockets, speaking 3.1.1 or 5.0 through Kirisame's codec.
/// Publishes go out in the order they were asked for; a QoS 1/2 one completes when the server has acknowledged it
/// (PUBACK, PUBCOMP). Received messages come out of <see cref="Messages"/>. It does not reconnect: when the
/// connection ends, <see cref="Disconnected"/> completes with why, and a new client continues the session
/// (CleanStart false).
///
/// <code>
/// await using var client = await MqttClient.ConnectAsync(new MqttClientOptions { Server = MqttServerAddress.Parse("mqtt://localhost") });
/// await client.SubscribeAsync("sensors/#", QualityOfService.AtLeastOnce);
/// await client.PublishAsync("sensors/1", "21.5"u8.ToArray(), QualityOfService.AtLeastOnce);
/// await foreach (var message in client.Messages.ReadAllAsync()) { … }
/// </code>
public sealed partial class MqttClient : IAsyncDisposable
{
    private readonly MqttClientOptions _options;
    private readonly Stream _stream;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly MqttFrameReader _frames;
    private readonly PacketIdentifiers _ids = new();
    private readonly Channel<MqttMessage> _received;
    private readonly ConcurrentQueue<Outgoing> _control = new();
    private readonly Channel<Outgoing> _publishes = Channel.CreateUnbounded<Outgoing>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<MqttDisconnectInfo> _disconnected = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// Inbound QoS 2 packet ids between PUBLISH and PUBREL, and whether PUBREC went out for each: a resent PUBLISH
    /// with the same id is not delivered twice [MQTT-4.3.3-9] (3.1.1: [MQTT-4.3.3-2]).
    private readonly Dictionary<ushort, bool> _inboundQoS2 = [];
    private readonly int _window;
    private readonly int _serverMaximumPacketSize;
    private readonly QualityOfService _serverMaximumQoS;
    private readonly bool _serverRetainAvailable;
    private Task _loops = Task.CompletedTask;
    private int _wakePending;
    private int _inflight;

    private MqttClient(MqttClientOptions options, Stream stream, PipeReader input, MqttFrameReader frames, ConnAckPacket connAck, string clientId)
    {
        _options = options;
        _stream = stream;
        _input = input;
        _output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        _frames = frames;
        ConnAck = connAck;
        ClientId = clientId;
        _received = Channel.CreateBounded<MqttMessage>(new BoundedChannelOptions(Math.Max(1, options.ReceiveBuffer)) { SingleWriter = true });
        var properties = connAck.Properties;
        _window = Math.Max(1, Math.Min(options.MaxInflight, properties?.ReceiveMaximum ?? ushort.MaxValue)); // [MQTT-3.3.4-7]
        _serverMaximumPacketSize = (int)Math.Min(properties?.MaximumPacketSize ?? int.MaxValue, int.MaxValue);
        _serverMaximumQoS = (QualityOfService)(properties?.MaximumQoS ?? 2);
        _serverRetainAvailable = properties?.RetainAvailable != 0;
        KeepAlive = properties?.ServerKeepAlive is { } serverKeepAlive ? TimeSpan.FromSeconds(serverKeepAlive) : options.KeepAlive; // [MQTT-3.2.2-21]
    }

    /// The client id in use: the one asked for, or the one a 5.0 server assigned.
    public string ClientId { get; }

    public MqttServerAddress Server => _options.Server;

    public ProtocolVersion ProtocolVersion => _options.ProtocolVersion;

    /// The server's CONNACK: Session Present and, for 5.0, its properties (Receive Maximum, Maximum QoS, …).
    public ConnAckPacket ConnAck { get; }

    public bool SessionPresent => ConnAck.SessionPresent;

    /// The keep-alive in force (a 5.0 server may have set its own).
    public TimeSpan KeepAlive { get; }

    public bool IsConnected => !_disconnected.Task.IsCompleted;

    /// Completes when the connection has ended, saying why.
    public Task<MqttDisconnectInfo> Disconnected => _disconnected.Task;

    /// The messages received, in order. Completes when the connection ends. When nobody reads, at most
    /// <see cref="MqttClientOptions.ReceiveBuffer"/> wait here and the connection stops reading.
    public ChannelReader<MqttMessage> Messages => _received.Reader;

    /// Connects and waits for the CONNACK. Throws <see cref="MqttConnectException"/> when the server refuses (its
    /// reason code), <see cref="MqttClientException"/> when the connection fails or times out.
    public static async Task<MqttClient> ConnectAsync(MqttClientOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validate(options);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        Stream? stream = null;
        try
        {
            stream = await Connector.OpenAsync(options, timeout.Token);
            var connect = Handshake.BuildConnect(options);
            await stream.WriteAsync(Handshake.Encode(connect, options), timeout.Token);
            await stream.FlushAsync(timeout.Token);
            var input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
            var frames = new MqttFrameReader(options.MaximumPacketSize);
            var connAck = await Handshake.ReadConnAckAsync(input, frames, options, timeout.Token);
            var clientId = connAck.Properties?.AssignedClientIdentifier ?? connect.ClientId;
            var client = new MqttClient(options, stream, input, frames, connAck, clientId);
            stream = null; // the client owns it now
            client.Start();
            return client;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new MqttClientException($"connecting to {options.Server} timed out after {options.ConnectTimeout.TotalSeconds:0.#} s");
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or System.Net.WebSockets.WebSocketException
            or System.Security.Authentication.AuthenticationException)
        {
            throw new MqttClientException($"connecting to {options.Server} failed: {ex.Message}", ex);
        }
        finally
        {
            if (stream is not null)
                await stream.DisposeAsync();
        }
    }

    private static void Validate(MqttClientOptions options)
    {
        if (options.ProtocolVersion is not (ProtocolVersion.V311 or ProtocolVersion.V500))
            throw new ArgumentException("ProtocolVersion must be 3.1.1 or 5.0.", nameof(options));
        if (options.KeepAlive < TimeSpan.Zero || options.KeepAlive.TotalSeconds > ushort.MaxValue)
            throw new ArgumentException("KeepAlive must be between 0 and 65,535 seconds.", nameof(options));
        if (options.MaxInflight < 1)
            throw new ArgumentException("MaxInflight must be at least 1.", nameof(options));
        if (options.ReceiveMaximum < 1)
            throw new ArgumentException("ReceiveMaximum must be at least 1 (0 is a protocol error).", nameof(options));
    }

    private void Start()
    {
        var reading = Task.Run(ReadLoopAsync);
        var writing = Task.Run(WriteLoopAsync);
        var keepAlive = KeepAlive > TimeSpan.Zero ? Task.Run(KeepAliveLoopAsync) : Task.CompletedTask;
        _loops = Task.WhenAll(reading, writing, keepAlive);
    }

    /// Subscribes; one reason code per filter as the SUBACK gave it: the granted QoS (0x00-0x02) or a failure
    /// (0x80 and above; a 3.1.1 server says only 0x80). 5.0 options (No Local, Retain As Published, Retain Handling)
    /// are dropped for 3.1.1.
    public async Task<IReadOnlyList<ReasonCode>> SubscribeAsync(IReadOnlyList<TopicSubscription> subscriptions, uint subscriptionIdentifier = 0,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subscriptions);
        if (subscriptions.Count == 0)
            throw new ArgumentException("SUBSCRIBE needs at least one filter [MQTT-3.8.3-2].", nameof(subscriptions));
        foreach (var s in subscriptions)
        {
            if (Protocol.Topics.TopicRules.ValidateTopicFilter(s.Filter) != DecodeError.None)
                throw new ArgumentException($"'{s.Filter}' is not a valid topic filter.", nameof(subscriptions));
        }

        var properties = subscriptionIdentifier == 0 ? null : new MqttProperties { SubscriptionIdentifiers = [subscriptionIdentifier] };
        var ack = (SubAckPacket)await SendWithIdAsync(PacketType.SubAck,
            id => new SubscribePacket { PacketId = id, Subscriptions = [.. subscriptions], Properties = properties }, cancellationToken);
        return ack.ReasonCodes;
    }

    public Task<IReadOnlyList<ReasonCode>> SubscribeAsync(string filter, QualityOfService qos = QualityOfService.AtMostOnce, CancellationToken cancellationToken = default)
        => SubscribeAsync([new TopicSubscription(filter, qos)], 0, cancellationToken);

    /// Unsubscribes; per filter the 5.0 UNSUBACK's reason code (Success or No subscription existed 0x11, …);
    /// Success for each with 3.1.1, whose UNSUBACK carries none.
    public async Task<IReadOnlyList<ReasonCode>> UnsubscribeAsync(IReadOnlyList<string> filters, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filters);
        if (filters.Count == 0)
            throw new ArgumentException("UNSUBSCRIBE needs at least one filter [MQTT-3.10.3-2].", nameof(filters));
        var ack = (UnsubAckPacket)await SendWithIdAsync(PacketType.UnsubAck,
            id => new UnsubscribePacket { PacketId = id, Filters = [.. filters] }, cancellationToken);
        return ack.ReasonCodes.Count == filters.Count ? ack.ReasonCodes : [.. filters.Select(_ => ReasonCode.Success)];
    }

    private async Task<object> SendWithIdAsync(PacketType awaiting, Func<ushort, MqttPacket> build, CancellationToken cancellationToken)
    {
        ThrowIfDisconnected();
        var flow = new PendingFlow(awaiting);
        if (!_ids.TryAdd(flow, out var packetId))
            throw new MqttClientException("all 65,535 packet identifiers are in use");
        EnqueueControl(Protocol.Codec.MqttEncoder.Encode(build(packetId), ProtocolVersion));
        if (!IsConnected)
            FailAll(); // closed between the check and the enqueue: nobody else will fail this flow
        return await flow.Completion.Task.WaitAsync(cancellationToken);
    }

    /// Acknowledges a received QoS 1/2 message (PUBACK, or PUBREC then PUBCOMP when the server releases it) when
    /// <see cref="MqttClientOptions.AutoAcknowledge"/> is off. Does nothing for QoS 0 or once disconnected.
    public void Acknowledge(MqttMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (_options.AutoAcknowledge || message.QoS == QualityOfService.AtMostOnce || !IsConnected)
            return;
        SendAck(message.QoS, message.PacketId);
    }

    private void SendAck(QualityOfService qos, ushort packetId)
    {
        if (qos == QualityOfService.ExactlyOnce)
        {
            lock (_inboundQoS2)
                _inboundQoS2[packetId] = true;
        }

        EnqueueAck(qos == QualityOfService.AtLeastOnce ? PacketType.PubAck : PacketType.PubRec, packetId, ReasonCode.Success);
    }

    /// Sends DISCONNECT after the publishes already asked for have been written (not acknowledged), then closes.
    /// The server discards the will unless <paramref name="reason"/> is 0x04 (5.0) [MQTT-3.14.4-3].
    public async Task DisconnectAsync(ReasonCode reason = ReasonCode.NormalDisconnection, CancellationToken cancellationToken = default)
    {
        if (IsConnected)
        {
            var packet = new DisconnectPacket { ReasonCode = reason };
            var written = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_publishes.Writer.TryWrite(new Outgoing(Protocol.Codec.MqttEncoder.Encode(packet, ProtocolVersion), written)))
            {
                Wake();
                try
                {
                    await written.Task.WaitAsync(_options.ConnectTimeout, cancellationToken);
                }
                catch (Exception ex) when (ex is TimeoutException or MqttClientException)
                {
                    // Not written in time (a full window the server never acknowledges) or the connection ended.
                }
            }

            Close(new MqttDisconnectInfo(reason, "disconnected by the client", ByClient: true));
        }

        await _loops;
    }

    public async ValueTask DisposeAsync()
    {
        await DisconnectAsync();
        _frames.Dispose();
        _stop.Dispose();
        _wake.Dispose();
    }

    private void ThrowIfDisconnected()
    {
        if (_disconnected.Task.IsCompleted)
            throw new MqttClientException($"not connected: {_disconnected.Task.Result}");
    }

    /// Ends the connection once, failing what waits on it.
    private void Close(MqttDisconnectInfo info)
    {
        if (!_disconnected.TrySetResult(info))
            return;
        _stop.Cancel();
        _received.Writer.TryComplete();
        _publishes.Writer.TryComplete();
        FailAll();
        // Closing the stream ends a read or write in progress.
        _ = Task.Run(async () =>
        {
            try
            {
                await _stream.DisposeAsync();
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or System.Net.WebSockets.WebSocketException)
            {
                // Already broken: nothing more to close.
            }
        });
    }

    private void FailAll()
    {
        if (!_disconnected.Task.IsCompleted)
            return;
        var error = new MqttClientException($"the connection ended before the server acknowledged: {_disconnected.Task.Result}");
        foreach (var flow in _ids.RemoveAll())
            flow.Completion.TrySetException(error);
        while (_publishes.Reader.TryRead(out var outgoing))
            outgoing.Completion?.TrySetException(error);
        while (_control.TryDequeue(out var control))
            control.Completion?.TrySetException(error);
    }
}
