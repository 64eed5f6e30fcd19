using System.Buffers;
using System.IO.Pipelines;
using Kirisame.Broker.Delivery;
using Kirisame.Broker.Security;
using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Primitives;
using Kirisame.Protocol.Properties;
using Microsoft.Extensions.Logging;

namespace Kirisame.Broker.Sessions;

#pragma warning disable CA1001 // The frame reader's scratch buffer is returned in CloseAsync.
/// One network connection speaking MQTT: the read loop and the protocol state after CONNECT. Its parts: the
/// handshake (ClientConnection.Handshake, an object only while connecting), re-authentication, the handlers per
/// packet type (Handlers: PUBLISH in, acknowledgements, SUBSCRIBE/UNSUBSCRIBE/DISCONNECT), the encoding of what it
/// sends (Encoding), and the writer that drains its outbound queue (the base class, OutboundWriter).
internal sealed partial class ClientConnection : OutboundWriter, IDeliveryTarget
{
    private readonly MqttFrameReader _frameReader;
    private long _lastActivityTicks;

    /// When the bytes being handled were read (one clock read per batch of packets, not one per packet):
    /// the keep-alive clock and the received time of the messages published in the batch.
    private long _readTicks;
    private int _closing;
    private ReasonCode? _closeReason;

    internal ClientConnection(MqttBroker broker, IDuplexPipe transport, ConnectionInfo info)
        : base(broker, transport)
    {
        Info = info;
        Authorizer = broker.Authorizer.ForListener(info.SecurityListener);
        if (Authorizer.Hook is { } hook)
            _credentials = new CredentialState { Hook = hook };
        _frameReader = new MqttFrameReader(broker.Options.MaximumPacketSize);
        ConnectedAtTicks = broker.TimeProvider.GetTimestamp();
        _lastActivityTicks = ConnectedAtTicks;
    }

    public ConnectionInfo Info { get; }

    private ILogger Logger => _broker.ConnectionLogger;

    /// Where the broker's connection table keeps this connection (-1: not there); see ConnectionTable.
    internal int TableSlot { get; set; } = -1;

    public ProtocolVersion Version { get; private set; }

    public string ClientId { get; private set; } = "";

    /// The client id as log lines and reason strings quote it: cut short, since a client id may be 64 KiB.
    /// Made when asked (for a log line): the same string unless the id is long, so no field for it.
    public string LogName => MqttText.Quote(ClientId);

    public string Origin => Info.RemoteEndPoint?.ToString() ?? "unknown";

    public string? UserName { get; private set; }

    public Session? Session { get; private set; }

    /// True once CONNECT was accepted.
    public bool IsEstablished { get; private set; }

    /// Keep alive in seconds that the broker enforces (at 1.5×); 0 = none.
    public ushort KeepAlive { get; private set; }

    public long ConnectedAtTicks { get; }

    public long LastActivityTicks => Volatile.Read(ref _lastActivityTicks);

    /// Outbound QoS 1/2 window: min(our MaxInflightMessages, the client's Receive Maximum).
    public int SendWindow { get; private set; }

    /// The client's Maximum Packet Size (v5), or int.MaxValue.
    public int ClientMaximumPacketSize { get; private set; } = int.MaxValue;

    /// Aliases the client accepts from us (v5 Topic Alias Maximum in CONNECT); 0 = none [MQTT-3.1.2-27], [MQTT-3.3.2-11].
    public ushort ClientTopicAliasMaximum { get; private set; }

    /// v5 Request Problem Information: when false, no Reason String or User Property on errors.
    public bool ProblemInformation { get; private set; } = true;

    /// Completes once the connection has finished its clean-up: the task of <see cref="RunAsync"/> itself.
    public Task Finished { get; private set; } = Task.CompletedTask;

    public bool IsClosing => Volatile.Read(ref _closing) != 0;

    /// Serves the connection: reads and handles packets until it closes, then cleans up. One async method
    /// (not a chain of them) so an idle connection holds one state machine.
    internal Task RunAsync() => Finished = ServeAsync();

    private async Task ServeAsync()
    {
        try
        {
            // Locals that live across an await are fields of the state machine every idle connection holds:
            // they are kept few (no ReadResult, no SequencePosition, no PipeReader).
            while (true)
            {
                if (!await ReservePartialPacketAsync()) // a large packet's memory comes from the broker's budget
                    break;
                var result = await _transport.Input.ReadAsync(CancellationToken.None); // closing cancels the pending read instead
                var buffer = result.Buffer;
                var ended = result.IsCompleted;
                var stop = false;
                try
                {
                    if (result.IsCanceled || IsClosing)
                        break;
                    BeginReading(buffer.Length); // what it queues is written at the end of the batch (OutboundWriter)
                    _readTicks = 0; // the clock is read once per batch, at its first whole packet
                    while (!stop)
                    {
                        var status = _frameReader.TryRead(buffer, out var packet, out var consumed, out var error);
                        if (status == FrameStatus.NeedMoreData)
                            break;
                        if (status == FrameStatus.Invalid)
                        {
                            ProtocolViolation(error, "framing");
                            stop = true;
                            break;
                        }

                        if (_readTicks == 0)
                        {
                            _readTicks = _broker.TimeProvider.GetTimestamp();
                            Volatile.Write(ref _lastActivityTicks, _readTicks);
                        }

                        Interlocked.Add(ref _broker.Statistics.BytesReceived, packet.TotalLength);
                        buffer = buffer.Slice(consumed); // the packet's bytes stay valid until AdvanceTo
                        var handled = HandlePacketAsync(packet);
                        if (handled.IsCompletedSuccessfully)
                        {
                            stop = !handled.Result;
                        }
                        else
                        {
                            WriteDeferred();
                            stop = !await handled;
                            ResumeReading();
                        }
                        if (Paused)
                            break;
                    }
                }
                finally
                {
                    WriteDeferred();
                    // When pausing, what is left was not looked at: the next read must return it straight away.
                    _transport.Input.AdvanceTo(buffer.Start, Paused ? buffer.Start : buffer.End);
                }

                if (stop)
                    break;
                if (_gate is { MustWait: true })
                {
                    await WaitForSubscribersAsync();
                    if (_publishBuckets is not { Pause.Ticks: > 0 })
                        continue;
                }

                if (_publishBuckets is { Pause.Ticks: > 0 })
                {
                    await PauseReadingAsync();
                    continue;
                }

                if (ended)
                {
                    if (!buffer.IsEmpty)
                        Logger.LogDebug("Connection {ConnectionId} closed mid-packet", Info.ConnectionId);
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            // Kestrel reports resets and aborts as these.
            Logger.LogDebug("Connection {ConnectionId} ended: {Message}", Info.ConnectionId, ex.Message);
        }
        catch (Exception ex)
        {
            // A fault while serving one client ends that client's connection, never the broker: counted, logged,
            // and closed (v5 clients are told 0x80 Unspecified error when the writer still can).
            Interlocked.Increment(ref _broker.Statistics.ConnectionFaults);
            if (MayLog("connection fault"))
                Logger.LogError(ex, "Connection {ConnectionId} (client {ClientId}) failed; closing it", Info.ConnectionId, LogName);
            RequestClose(ReasonCode.UnspecifiedError, "internal error");
        }
        finally
        {
            try
            {
                await CloseAsync();
            }
            catch (Exception ex)
            {
                Interlocked.Increment(ref _broker.Statistics.ConnectionFaults);
                Logger.LogError(ex, "Connection {ConnectionId} (client {ClientId}): clean-up failed", Info.ConnectionId, LogName);
            }
        }
    }

    /// The transport says the connection is gone (Kestrel's ConnectionClosed, a WebSocket request aborted). That
    /// signal can come before the read loop has handled the last bytes the client sent (a PUBLISH, then DISCONNECT,
    /// then the end of the stream), so it does not close anything itself: the input ends after those bytes, and
    /// the read loop with it. Only a pause for the publish rate is cut short, so that the end is read at once.
    internal void OnTransportClosed() => CloseRequested.TrySetResult();

    /// Whether a line this client's input caused may be written now (at most one a minute per kind and address;
    /// the rest are summed up, see <see cref="Diagnostics.LogThrottle"/>).
    private bool MayLog(string kind) => _broker.LogThrottle.Allow(kind, Info.RemoteEndPoint);

    /// Closes the connection with a protocol violation: v5 clients get DISCONNECT with the reason first.
    private void ProtocolViolation(DecodeError error, string what)
    {
        var reason = DecodeErrors.ToReasonCode(error);
        if (MayLog("bad packet"))
        {
            // Before CONNECT there is no client id: the connection is named instead.
            Logger.LogInformation("{Who} ({Remote}) sent a bad {What}: {Error}; closing with {Reason}",
                IsEstablished ? "Client " + LogName : "Connection " + Info.ConnectionId, Info.RemoteEndPoint, what, error, reason);
        }
        RequestClose(reason, $"bad {what}: {error}");
    }


    /// The sessions this client's last PUBLISH found behind (back-pressure); made at its first PUBLISH.
    private IngestGate? _gate;

    private IngestGate Gate => _gate ??= new IngestGate(Session);

    /// Reading stops after the current packet: for the publish rate, or for subscribers that are behind.
    private bool Paused => _publishBuckets is { Pause.Ticks: > 0 } || _gate is { MustWait: true };

    /// Back-pressure: the subscribers this client publishes to are behind, so it is not read from until they have
    /// caught up (or turned out to be slow consumers, see BackPressure). TCP then slows the client down. The wait is
    /// not the client's silence: the keep-alive clock restarts when it ends.
    private async Task WaitForSubscribersAsync()
    {
        var closeRequested = CloseRequested; // made before IsClosing is read, so a close from now on completes it
        if (!IsClosing)
            await _broker.BackPressure.WaitAsync(_gate!, closeRequested.Task);
        else
            _gate!.Sessions.Clear();
        Volatile.Write(ref _lastActivityTicks, _broker.TimeProvider.GetTimestamp());
    }

    /// Over the publish rate: stop reading until the debt is paid. TCP back-pressure then slows the client;
    /// the keep-alive clock runs from its last packet, which it did send. Closing ends the pause.
    private async Task PauseReadingAsync()
    {
        var buckets = _publishBuckets!;
        var pause = buckets.Pause;
        buckets.Pause = TimeSpan.Zero;
        var closeRequested = CloseRequested; // made before IsClosing is read, so a close from now on completes it
        if (!IsClosing)
            await Task.WhenAny(Task.Delay(pause, _broker.TimeProvider), closeRequested.Task);
    }

    /// Made only by a connection that pauses reading (publish rate), so that closing it ends the pause.
    private TaskCompletionSource? _closeRequested;

    private TaskCompletionSource CloseRequested =>
        _closeRequested ?? Interlocked.CompareExchange(ref _closeRequested, new(TaskCreationOptions.RunContinuationsAsynchronously), null) ?? _closeRequested!;
    /// Made at the first PUBLISH when Broker:MaxPublishRate or MaxPublishBytesRate is set (most brokers set neither).
    private PublishBuckets? _publishBuckets;

    /// Token buckets for Broker:MaxPublishRate and MaxPublishBytesRate, each holding one second's worth. A
    /// PUBLISH always takes its tokens (the bucket may go negative); the returned time is how long it takes
    /// to get back to zero, during which the client is not read from (or is disconnected).
    private TimeSpan TakePublishTokens(int bytes)
    {
        var options = _broker.Options;
        var now = _broker.TimeProvider.GetTimestamp();
        var buckets = _publishBuckets;
        if (buckets is null)
        {
            _publishBuckets = buckets = new PublishBuckets { Messages = options.MaxPublishRate, Bytes = options.MaxPublishBytesRate };
        }
        else
        {
            var elapsed = _broker.TimeProvider.GetElapsedTime(buckets.Ticks, now).TotalSeconds;
            buckets.Messages = Math.Min(options.MaxPublishRate, buckets.Messages + elapsed * options.MaxPublishRate);
            buckets.Bytes = Math.Min(options.MaxPublishBytesRate, buckets.Bytes + elapsed * options.MaxPublishBytesRate);
        }

        buckets.Ticks = now;
        var wait = 0.0;
        if (options.MaxPublishRate > 0 && --buckets.Messages < 0)
            wait = -buckets.Messages / options.MaxPublishRate;
        if (options.MaxPublishBytesRate > 0 && (buckets.Bytes -= bytes) < 0)
            wait = Math.Max(wait, -buckets.Bytes / options.MaxPublishBytesRate);
        return TimeSpan.FromSeconds(wait);
    }

    private sealed class PublishBuckets
    {
        public double Messages { get; set; }

        public double Bytes { get; set; }

        /// When they were last filled up (TimeProvider timestamp).
        public long Ticks { get; set; }

        /// How long the read loop stops reading after the current packet (the debt of the last PUBLISH), or zero.
        public TimeSpan Pause { get; set; }
    }

    public Admin.ClientSnapshot Describe(string clientId) =>
        new(clientId, Connected: true, Origin, Info.Listener, Version, UserName, _broker.WallClockOf(ConnectedAtTicks), KeepAlive);

    /// A message not delivered to this client (expired, too large): counted for the broker and the session.
    private void Dropped(Diagnostics.DropReason reason)
    {
        if (Session is { } session)
            _broker.Metrics.Dropped(session, reason);
        else
            _broker.Metrics.Dropped(reason);
    }

    /// Set by a normal DISCONNECT; without one the will is published [MQTT-3.1.2-8].
    private bool _disconnectedNormally;

    /// The broker is shutting down: no will for this connection.
    internal void SuppressWill() => _disconnectedNormally = true;

    /// Asks the connection to close: v5 clients get DISCONNECT with <paramref name="reason"/> (if any)
    /// before the socket closes. Safe from any thread, more than once.
    public void RequestClose(ReasonCode? reason, string? reasonString = null)
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0)
            return;
        Volatile.Read(ref _closeRequested)?.TrySetResult();
        _closeReason = reason;
        if (reason is { } code && IsEstablished && Version == ProtocolVersion.V500)
        {
            if (!ReasonCodeSets.IsAllowed(PacketType.Disconnect, code))
                code = ReasonCode.UnspecifiedError;
            // A Reason String may go on DISCONNECT even when Request Problem Information is 0 [MQTT-3.1.2-29].
            var properties = reasonString is null ? null : new MqttProperties { ReasonString = reasonString };
            EnqueuePacket(new DisconnectPacket { ReasonCode = code, Properties = properties });
        }

        EnqueueClose();
        _transport.Input.CancelPendingRead();
    }

    private async Task CloseAsync()
    {
        if (Interlocked.Exchange(ref _closing, 1) == 0)
            EnqueueClose();
        // Give the writer a moment to flush what is queued (DISCONNECT included); a client that does not read
        // cannot hold us up.
        // (WaitAsync drops its timer when the writer finishes; a Task.Delay would hold one for the full 2 s.)
        await WriterFinished.WaitAsync(TimeSpan.FromSeconds(2), _broker.TimeProvider).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        AbandonOutbound();
        ReleasePartialPacket();
        StopExpiryTimer();
        _frameReader.Dispose();
        try
        {
            await _transport.Input.CompleteAsync();
        }
        catch (InvalidOperationException)
        {
        }

        await _broker.ConnectionClosedAsync(this, publishWill: !_disconnectedNormally, _closeReason);
    }
}

