using Kirisame.Broker.Diagnostics;
using Kirisame.Protocol.Packets;

namespace Kirisame.Broker.Admin;

/// What an operator reads and does: the one surface the HTTP API, a console, `kirisame ctl` and the like are
/// built on (docs/ARCHITECTURE.md, "Seams"). Reads return snapshots: plain records, copied under the broker's
/// locks, that do not change afterwards and hold nothing of the broker alive. Every member is thread-safe.
///
/// Listeners are not here: they belong to the transport (Kirisame.Transport), which the broker does not know.
public interface IBrokerAdmin
{
    /// The broker as a whole: version, start time, counts and the totals since start (the figures $SYS and the
    /// meter report), for an overview page. Rates are for the reader to compute from two overviews.
    public BrokerOverview GetOverview();

    /// Every client the broker holds a session for, connected or not (the broker's own $SYS client left out).
    public IReadOnlyList<ClientSnapshot> GetClients();

    /// One client, or null when the broker holds no session for <paramref name="clientId"/>.
    public ClientSnapshot? GetClient(string clientId);

    /// Every session, with its queue depth and drops (the broker's own $SYS session left out).
    public IReadOnlyList<SessionSnapshot> GetSessions();

    public SessionSnapshot? GetSession(string clientId);

    /// The session's subscriptions, or null when there is no such session.
    public IReadOnlyList<SubscriptionSnapshot>? GetSubscriptions(string clientId);

    /// Adds (or replaces) a subscription of the session on an administrator's behalf, with the rules a SUBSCRIBE
    /// goes through (filter validity, topic limits, shared and wildcard availability, the per-client quota,
    /// the broker's maximum QoS) except the ACL: the administrator decides. Matching retained messages are
    /// delivered as after a SUBACK. Null when there is no such session; otherwise the v5 SUBACK code (the granted
    /// QoS, or why not) and a reason when refused.
    public (Protocol.ReasonCode Code, string? Reason)? Subscribe(string clientId, TopicSubscription subscription);

    /// Removes a subscription of the session. Null when there is no such session; otherwise Success or No
    /// subscription existed (0x11).
    public Protocol.ReasonCode? Unsubscribe(string clientId, string filter);

    /// Subscriptions across all sessions (the topic tree's count).
    public int SubscriptionCount { get; }

    public int RetainedCount { get; }

    /// Retained messages whose topic matches <paramref name="topicFilter"/> (wildcards allowed), at most
    /// <paramref name="limit"/> of them, in no particular order.
    public IReadOnlyList<RetainedSnapshot> FindRetained(string topicFilter, int limit = 100);

    /// Estimated messages per second by topic over the last 10-second window, of the messages clients published
    /// (Diagnostics/TopicRates: counted or sampled, at most Broker:TopicRateTopics topics); null when that is 0.
    public TopicRateSnapshot? GetTopicRates();

    /// Messages dropped since start, by reason (the same counters as the meter's kirisame.messages.dropped).
    public IReadOnlyDictionary<DropReason, long> GetDrops();

    /// Disconnects a connected client: an MQTT 5 client is sent DISCONNECT 0x98 (Administrative action). As for
    /// any disconnection the client did not ask for, its will is published. The session stays (if it outlives
    /// its connection). False when the client is not connected.
    public bool DisconnectClient(string clientId);

    /// Deletes a session and its subscriptions and queued messages, disconnecting its client first (0x98) if it
    /// is connected. A will waiting for its delay is published then, as when a session ends [MQTT-3.1.3-9].
    /// False when there is no such session (or a new connection took it over meanwhile).
    public Task<bool> DeleteSessionAsync(string clientId, CancellationToken cancellationToken = default);

    /// Deletes the retained message of <paramref name="topic"/> (a topic name, no wildcards), as a retained
    /// PUBLISH with an empty payload would. False when there was none.
    public bool DeleteRetained(string topic);
}
