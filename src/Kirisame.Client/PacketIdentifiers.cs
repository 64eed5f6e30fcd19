namespace Kirisame.Client;

/// The packet identifiers in use by this client's outbound flows (PUBLISH QoS 1/2, SUBSCRIBE, UNSUBSCRIBE), and
/// what waits on each. An identifier is free again once its flow completes [MQTT-2.2.1-3] (3.1.1: [MQTT-2.3.1-1]).
internal sealed class PacketIdentifiers
{
    private readonly Dictionary<ushort, PendingFlow> _flows = [];
    private ushort _next;

    public int Count
    {
        get
        {
            lock (_flows)
                return _flows.Count;
        }
    }

    /// Reserves a free identifier for <paramref name="flow"/>; false when all 65,535 are in use.
    public bool TryAdd(PendingFlow flow, out ushort packetId)
    {
        lock (_flows)
        {
            for (var tried = 0; tried < ushort.MaxValue; tried++)
            {
                _next = _next == ushort.MaxValue ? (ushort)1 : (ushort)(_next + 1);
                if (_flows.TryAdd(_next, flow))
                {
                    packetId = _next;
                    return true;
                }
            }
        }

        packetId = 0;
        return false;
    }

    public PendingFlow? Get(ushort packetId)
    {
        lock (_flows)
            return _flows.GetValueOrDefault(packetId);
    }

    public PendingFlow? Remove(ushort packetId)
    {
        lock (_flows)
            return _flows.Remove(packetId, out var flow) ? flow : null;
    }

    /// Takes every flow (the connection ended).
    public List<PendingFlow> RemoveAll()
    {
        lock (_flows)
        {
            var all = _flows.Values.ToList();
            _flows.Clear();
            return all;
        }
    }
}

/// One outbound flow waiting for the server: a QoS 1/2 PUBLISH (PUBACK, or PUBREC then PUBCOMP), a SUBSCRIBE
/// (SUBACK) or an UNSUBSCRIBE (UNSUBACK).
internal sealed class PendingFlow(Protocol.PacketType awaiting, TaskCompletionSource<object>? completion = null)
{
    public TaskCompletionSource<object> Completion { get; } = completion ?? new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// The packet type that moves this flow on next.
    public Protocol.PacketType Awaiting { get; set; } = awaiting;

    /// A PUBLISH counts against the in-flight window until its flow completes.
    public bool InWindow { get; init; }
}
