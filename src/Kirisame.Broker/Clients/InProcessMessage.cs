using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Broker.Clients;

/// A message delivered to an in-process client: what a PUBLISH would carry, without the bytes of one.
/// <see cref="Properties"/> has the publisher's properties with the Message Expiry Interval reduced by the time
/// the message waited [MQTT-3.3.2-6]; <see cref="SubscriptionIdentifiers"/> those of the matching subscriptions.
public sealed record InProcessMessage(
    string Topic,
    ReadOnlyMemory<byte> Payload,
    QualityOfService QoS,
    bool Retain,
    bool Duplicate,
    PublishProperties Properties,
    IReadOnlyList<uint> SubscriptionIdentifiers)
{
    /// The session's packet identifier of a QoS 1/2 delivery, for <see cref="InProcessClient.Acknowledge"/>.
    internal ushort PacketId { get; init; }
}
