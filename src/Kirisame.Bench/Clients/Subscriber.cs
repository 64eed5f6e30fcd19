using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using Kirisame.Bench.Measurement;
using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Framing;

namespace Kirisame.Bench.Clients;

/// Counts deliveries on one connection. Each receive fills one buffer; every whole frame in it is parsed
/// in place, latency is taken from the timestamp at the start of the payload, and the acknowledgements
/// for the whole receive go back in one send.
internal sealed class Subscriber(BenchConnection connection, RunClock clock)
{
    private byte[] _acks = new byte[4096];
    private long _received;
    private long _duplicates;

    public LatencyHistogram Latency { get; } = new();

    public long Received => Volatile.Read(ref _received);

    /// Deliveries flagged DUP (a redelivery the broker chose to make).
    public long Duplicates => Volatile.Read(ref _duplicates);

    public string? Error { get; private set; }

    /// Reads until <paramref name="stop"/>; never throws.
    public async Task RunAsync(CancellationToken stop)
    {
        try
        {
            // The handshake may have read past SUBACK.
            var more = true;
            while (more)
            {
                var now = Stopwatch.GetTimestamp();
                var (consumed, ackBytes) = Parse(now, clock.Measuring);
                connection.Compact(consumed);
                if (ackBytes > 0)
                    await connection.SendAllAsync(_acks.AsMemory(0, ackBytes), stop);
                more = await connection.ReceiveAsync(stop);
            }

            if (!stop.IsCancellationRequested)
                Error ??= "subscriber: the broker closed the connection";
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex) when (!stop.IsCancellationRequested)
        {
            Error ??= $"subscriber: {ex.Message}";
        }
        catch (Exception)
        {
            // Closing the socket at the end of the run.
        }
    }

    private (int Consumed, int AckBytes) Parse(long now, bool measuring)
    {
        var sequence = new ReadOnlySequence<byte>(connection.Buffer, 0, connection.Filled);
        var consumed = 0;
        var ackBytes = 0;
        var received = 0L;
        while (true)
        {
            var status = connection.Frames.TryRead(sequence.Slice(consumed), out var raw, out _, out var frameError);
            if (status == FrameStatus.NeedMoreData)
                break;
            if (status == FrameStatus.Invalid)
                throw new BenchException($"malformed packet from the broker: {frameError}");
            consumed += raw.TotalLength;
            switch (raw.Type)
            {
                case PacketType.Publish:
                    var error = MqttDecoder.DecodePublish(raw, connection.Version, out var publish);
                    if (error != DecodeError.None)
                        throw new BenchException($"malformed PUBLISH: {error}");
                    received++;
                    if (publish.Dup)
                        _duplicates++;
                    if (measuring && publish.Payload.Length >= sizeof(long))
                        Latency.Record(now - BinaryPrimitives.ReadInt64LittleEndian(publish.Payload.Span));
                    if (publish.QoS == QualityOfService.AtLeastOnce)
                        ackBytes += WriteAck(ackBytes, PacketType.PubAck, publish.PacketId);
                    else if (publish.QoS == QualityOfService.ExactlyOnce)
                        ackBytes += WriteAck(ackBytes, PacketType.PubRec, publish.PacketId);
                    break;
                case PacketType.PubRel:
                    if (MqttDecoder.DecodePublishAck(raw, connection.Version, out var id, out _) != DecodeError.None)
                        throw new BenchException("malformed PUBREL");
                    ackBytes += WriteAck(ackBytes, PacketType.PubComp, id);
                    break;
                case PacketType.Disconnect:
                    throw new BenchException("the broker sent DISCONNECT");
            }
        }

        Volatile.Write(ref _received, _received + received);
        return (consumed, ackBytes);
    }

    private int WriteAck(int offset, PacketType type, ushort packetId)
    {
        if (offset + 5 > _acks.Length)
            Array.Resize(ref _acks, _acks.Length * 2);
        return MqttEncoder.WritePublishAck(_acks.AsSpan(offset), type, packetId, ReasonCode.Success, connection.Version);
    }
}
