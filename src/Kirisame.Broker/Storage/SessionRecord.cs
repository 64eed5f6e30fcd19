using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Broker.Storage;

/// A session as the store keeps it: plain values, taken from the live session under its lock, so that a store
/// never reads broker objects that other threads go on changing.
public readonly record struct SessionRecord(string ClientId, uint ExpiryInterval)
{
    /// When the connection went away (TimeProvider timestamp); 0 while a connection holds the session.
    public long DisconnectedAtTicks { get; init; }

    /// A will waiting for its Will Delay Interval, when it is due (TimeProvider timestamp), and the version of
    /// the connection that set it.
    public WillMessage? PendingWill { get; init; }

    public long PendingWillAtTicks { get; init; }

    public ProtocolVersion PendingWillVersion { get; init; }
}

/// One subscription as the store keeps it: the filter as the client sent it ("$share/…" included), its options
/// and its v5 Subscription Identifier (0 when none).
public readonly record struct SubscriptionRecord(string Filter, TopicSubscription Options, uint SubscriptionId);
