using System.Diagnostics.Metrics;

namespace Kirisame.MqttSn.Diagnostics;

/// The gateway's instruments on the `Kirisame` meter (docs/metrics.md): a meter of the same name as the broker's,
/// so whoever listens to "Kirisame" gets both. Counted in plain fields and read when collected.
internal sealed class MqttSnMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly long[] _dropped = new long[Enum.GetValues<SnDropReason>().Length];
    private long _received;
    private long _sent;
    private long _sendFailed;
    private long _retransmitted;
    private long _refused;
    private long _lost;

    public MqttSnMetrics(Func<(long Connecting, long Active, long Asleep)> clients)
    {
        _meter = new Meter("Kirisame");
        _meter.CreateObservableCounter("kirisame.mqttsn.datagrams", () => new Measurement<long>[]
        {
            new(Interlocked.Read(ref _received), new KeyValuePair<string, object?>("network.io.direction", "receive")),
            new(Interlocked.Read(ref _sent), new KeyValuePair<string, object?>("network.io.direction", "transmit")),
        }, "{datagram}", "MQTT-SN datagrams received and sent by the gateway (tag network.io.direction)");
        _meter.CreateObservableCounter("kirisame.mqttsn.datagrams.dropped", () => Enum.GetValues<SnDropReason>()
            .Select(r => new Measurement<long>(Interlocked.Read(ref _dropped[(int)r]), new KeyValuePair<string, object?>("reason", Tag(r)))),
            "{datagram}", "MQTT-SN datagrams received and dropped, by reason (malformed, unknown_client, unexpected)");
        _meter.CreateObservableCounter("kirisame.mqttsn.send.failures", () => Interlocked.Read(ref _sendFailed), "{datagram}",
            "MQTT-SN datagrams the gateway could not send (socket buffer full, unreachable address)");
        _meter.CreateObservableCounter("kirisame.mqttsn.retransmissions", () => Interlocked.Read(ref _retransmitted), "{message}",
            "Messages the gateway sent again because the client did not acknowledge within Tretry");
        _meter.CreateObservableCounter("kirisame.mqttsn.connects.refused", () => Interlocked.Read(ref _refused), "{client}",
            "MQTT-SN CONNECTs answered with a CONNACK other than accepted (each logged with its cause)");
        _meter.CreateObservableCounter("kirisame.mqttsn.clients.lost", () => Interlocked.Read(ref _lost), "{client}",
            "MQTT-SN clients considered lost: keep-alive or sleep expired, or Nretry retransmissions unanswered");
        _meter.CreateObservableUpDownCounter("kirisame.mqttsn.clients", () =>
        {
            var (connecting, active, asleep) = clients();
            return new Measurement<long>[]
            {
                new(connecting, new KeyValuePair<string, object?>("state", "connecting")),
                new(active, new KeyValuePair<string, object?>("state", "active")),
                new(asleep, new KeyValuePair<string, object?>("state", "asleep")),
            };
        }, "{client}", "MQTT-SN clients with state in the gateway, by state (connecting, active, asleep)");
    }

    public long Received => Interlocked.Read(ref _received);

    public long DroppedCount(SnDropReason reason) => Interlocked.Read(ref _dropped[(int)reason]);

    public void DatagramReceived() => Interlocked.Increment(ref _received);

    public void DatagramSent() => Interlocked.Increment(ref _sent);

    public void SendFailed() => Interlocked.Increment(ref _sendFailed);

    public void Dropped(SnDropReason reason) => Interlocked.Increment(ref _dropped[(int)reason]);

    public void Retransmitted() => Interlocked.Increment(ref _retransmitted);

    public void Refused() => Interlocked.Increment(ref _refused);

    public void Lost() => Interlocked.Increment(ref _lost);

    private static string Tag(SnDropReason reason) => reason switch
    {
        SnDropReason.Malformed => "malformed",
        SnDropReason.UnknownClient => "unknown_client",
        _ => "unexpected",
    };

    public void Dispose() => _meter.Dispose();
}
