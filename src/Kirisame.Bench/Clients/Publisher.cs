using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Packets;

namespace Kirisame.Bench.Clients;

/// Publishes one topic as fast as allowed: unthrottled, at a fixed rate, and for QoS 1/2 within an
/// in-flight window. The PUBLISH is encoded once, copied <see cref="_batchCapacity"/> times into one
/// buffer, and each send patches only the packet identifiers and send timestamps of the copies it sends,
/// so a batch of hundreds of messages is one SendAsync and no allocation.
internal sealed class Publisher
{
    private const int TargetBatchBytes = 64 * 1024;
    private const int MaxBatchMessages = 1024;

    private readonly BenchConnection _connection;
    private readonly QualityOfService _qos;
    private readonly double _rate;
    private readonly int _window;
    private readonly byte[] _batch;
    private readonly int _packetSize;
    private readonly int _packetIdOffset;
    private readonly int _timestampOffset; // -1 when the payload is too short to carry one
    private readonly int _batchCapacity;
    private readonly AsyncSignal _progress = new();
    private readonly Lock _gate = new();

    // Guarded by _gate: the reader acknowledges, the sender assigns.
    private readonly ulong[] _idsInUse = new ulong[65536 / 64];
    private readonly ushort[] _pendingRelease;
    private readonly byte[] _releaseBytes;
    private int _pendingReleaseCount;
    private int _inflight;
    private ushort _lastId;

    private long _sent;
    private long _acknowledged;
    private long _accepted;
    private long _rejected;
    private volatile bool _stopping;

    public Publisher(BenchConnection connection, string topic, QualityOfService qos, int payloadSize, double rate, int window)
    {
        _connection = connection;
        _qos = qos;
        _rate = rate;
        _window = Math.Max(1, Math.Min(window, connection.ServerReceiveMaximum));
        var publish = new PublishPacket
        {
            QoS = qos,
            PacketId = qos == QualityOfService.AtMostOnce ? (ushort)0 : (ushort)1,
            Topic = System.Text.Encoding.UTF8.GetBytes(topic),
            Payload = new byte[payloadSize],
        };
        _packetSize = MqttEncoder.GetPublishSize(publish, connection.Version);
        _packetIdOffset = qos == QualityOfService.AtMostOnce ? -1 : MqttEncoder.GetPacketIdOffset(publish, connection.Version);
        _timestampOffset = payloadSize >= sizeof(long) ? _packetSize - payloadSize : -1;
        _batchCapacity = Math.Clamp(TargetBatchBytes / _packetSize, 1, MaxBatchMessages);
        if (qos != QualityOfService.AtMostOnce)
            _batchCapacity = Math.Min(_batchCapacity, _window);
        _batch = new byte[_batchCapacity * _packetSize];
        for (var i = 0; i < _batchCapacity; i++)
            MqttEncoder.WritePublish(_batch.AsSpan(i * _packetSize, _packetSize), publish, connection.Version);
        _pendingRelease = new ushort[_window];
        _releaseBytes = new byte[_window * 4];
    }

    /// PUBLISH packets written to the socket.
    public long Sent => Volatile.Read(ref _sent);

    /// QoS 1/2 publishes the broker completed (PUBACK, or PUBCOMP).
    public long Acknowledged => Volatile.Read(ref _acknowledged);

    /// QoS 1/2 publishes the broker took responsibility for: completed with a success reason code (PUBACK at
    /// QoS 1; PUBCOMP at QoS 2, the end of the exchange, rather than PUBREC). Each of these must reach every
    /// matching subscriber.
    public long Accepted => Volatile.Read(ref _accepted);

    /// QoS 1/2 publishes the broker answered with a failure reason code (v5).
    public long Rejected => Volatile.Read(ref _rejected);

    public string? Error { get; private set; }

    /// Ends publishing; a QoS 1/2 publisher still waits for its in-flight acknowledgements.
    public void Stop()
    {
        _stopping = true;
        _progress.Set();
    }

    /// Runs until <see cref="Stop"/> and, for QoS 1/2, until nothing is in flight, or until
    /// <paramref name="abort"/>. Never throws: a failure ends the publisher and is kept in <see cref="Error"/>.
    public async Task RunAsync(CancellationToken abort)
    {
        using var readerStop = CancellationTokenSource.CreateLinkedTokenSource(abort);
        using var wake = abort.Register(static s => ((AsyncSignal)s!).Set(), _progress);
        var reader = _qos == QualityOfService.AtMostOnce ? Task.CompletedTask : ReadAcknowledgementsAsync(readerStop.Token);
        try
        {
            await SendLoopAsync(abort);
        }
        catch (Exception ex) when (!abort.IsCancellationRequested)
        {
            Error ??= $"publisher: {ex.Message}";
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            await readerStop.CancelAsync();
            await reader;
        }
    }

    private async Task SendLoopAsync(CancellationToken abort)
    {
        using var timer = _rate > 0 ? new PeriodicTimer(TimeSpan.FromMilliseconds(1)) : null;
        var start = Stopwatch.GetTimestamp();
        var pacedSent = 0L; // what pacing has released, which for QoS > 0 can run ahead of what the window let out
        while (!abort.IsCancellationRequested)
        {
            if (Error is not null)
                return;
            var allowed = _stopping ? 0 : _batchCapacity;
            if (allowed > 0 && _rate > 0)
            {
                // Pace by the clock: send however many are due by now, never one sleep per message.
                var due = (long)(Stopwatch.GetElapsedTime(start).TotalSeconds * _rate);
                allowed = (int)Math.Min(allowed, due - pacedSent);
            }

            var releases = 0;
            if (_qos != QualityOfService.AtMostOnce)
            {
                lock (_gate)
                {
                    allowed = Math.Max(0, Math.Min(allowed, _window - _inflight));
                    _inflight += allowed;
                    for (var i = 0; i < allowed; i++)
                        BinaryPrimitives.WriteUInt16BigEndian(_batch.AsSpan((i * _packetSize) + _packetIdOffset), TakeId());
                    for (var i = 0; i < _pendingReleaseCount; i++)
                        MqttEncoder.WritePublishAck(_releaseBytes.AsSpan(i * 4), PacketType.PubRel, _pendingRelease[i], ReasonCode.Success, ProtocolVersion.V311);
                    releases = _pendingReleaseCount;
                    _pendingReleaseCount = 0;
                    if (_stopping && _inflight == 0 && releases == 0)
                        return;
                }
            }
            else if (_stopping)
            {
                return;
            }

            if (releases > 0)
                await _connection.SendAllAsync(_releaseBytes.AsMemory(0, releases * 4), abort);
            if (allowed > 0)
            {
                if (_timestampOffset >= 0)
                {
                    var now = Stopwatch.GetTimestamp();
                    for (var i = 0; i < allowed; i++)
                        BinaryPrimitives.WriteInt64LittleEndian(_batch.AsSpan((i * _packetSize) + _timestampOffset), now);
                }

                pacedSent += allowed;
                await _connection.SendAllAsync(_batch.AsMemory(0, allowed * _packetSize), abort);
                Volatile.Write(ref _sent, _sent + allowed);
            }
            else if (releases == 0)
            {
                // Nothing to do: wait for the window to open (an acknowledgement) or for the next tick.
                if (timer is not null && !_stopping && WindowOpen())
                    await timer.WaitForNextTickAsync(abort);
                else
                    await _progress.WaitAsync();
            }
        }
    }

    private bool WindowOpen()
    {
        if (_qos == QualityOfService.AtMostOnce)
            return true;
        lock (_gate)
            return _inflight < _window;
    }

    private ushort TakeId()
    {
        // Identifiers are reused only once acknowledged [MQTT-2.2.1-3]; skip any still in flight.
        do
        {
            _lastId = _lastId == ushort.MaxValue ? (ushort)1 : (ushort)(_lastId + 1);
        }
        while ((_idsInUse[_lastId >> 6] & (1UL << (_lastId & 63))) != 0);
        _idsInUse[_lastId >> 6] |= 1UL << (_lastId & 63);
        return _lastId;
    }

    private async Task ReadAcknowledgementsAsync(CancellationToken stop)
    {
        try
        {
            while (await _connection.ReceiveAsync(stop))
            {
                var sequence = new ReadOnlySequence<byte>(_connection.Buffer, 0, _connection.Filled);
                var consumed = 0;
                lock (_gate)
                {
                    while (true)
                    {
                        var status = _connection.Frames.TryRead(sequence.Slice(consumed), out var raw, out _, out var error);
                        if (status == FrameStatus.NeedMoreData)
                            break;
                        if (status == FrameStatus.Invalid)
                            throw new BenchException($"malformed packet from the broker: {error}");
                        consumed += raw.TotalLength;
                        if (raw.Type is PacketType.PubAck or PacketType.PubRec or PacketType.PubComp)
                            Acknowledge(raw);
                        else if (raw.Type == PacketType.Disconnect)
                            throw new BenchException("the broker sent DISCONNECT");
                    }
                }

                _connection.Compact(consumed);
                _progress.Set();
            }

            if (!stop.IsCancellationRequested)
                Error ??= "publisher: the broker closed the connection";
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex)
        {
            Error ??= $"publisher: {ex.Message}";
        }

        _progress.Set();
    }

    private void Acknowledge(in RawPacket raw)
    {
        var decodeError = MqttDecoder.DecodePublishAck(raw, _connection.Version, out var id, out var reason);
        if (decodeError != DecodeError.None)
            throw new BenchException($"malformed {raw.Type}: {decodeError}");
        var bit = 1UL << (id & 63);
        if ((_idsInUse[id >> 6] & bit) == 0)
            throw new BenchException($"{raw.Type} for packet identifier {id}, which is not in flight");
        if ((byte)reason >= 0x80)
            _rejected++;
        if (raw.Type == PacketType.PubRec && (byte)reason < 0x80)
        {
            // Keep the identifier until PUBCOMP; the sender writes the PUBREL.
            if (_pendingReleaseCount == _pendingRelease.Length)
                throw new BenchException($"more PUBRECs outstanding than the in-flight window ({_window})");
            _pendingRelease[_pendingReleaseCount++] = id;
            return;
        }

        _idsInUse[id >> 6] &= ~bit;
        _inflight--;
        Volatile.Write(ref _acknowledged, _acknowledged + 1);
        if ((byte)reason < 0x80)
            Volatile.Write(ref _accepted, _accepted + 1);
    }
}
