using System.Diagnostics.Metrics;
using Kirisame.Broker.Admin;
using Kirisame.Broker.Delivery;
using Kirisame.Broker.Diagnostics;
using Kirisame.Broker.Security;
using Kirisame.Broker.Sessions;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Topics;
using Microsoft.Extensions.Logging;

namespace Kirisame.Broker;

/// The admin surface (<see cref="IBrokerAdmin"/>), implemented explicitly so that it is reached through
/// <see cref="Admin"/>. Snapshots are copied under the registry lock and each session's lock (in that order, as
/// everywhere: registry → session); nothing here waits on I/O while holding one.
public sealed partial class MqttBroker
{
    /// Sessions a client can hold: the broker's own in-process clients ($SYS) have ids no network client can
    /// use (they start with U+0000, [MQTT-1.5.4-2]), and are left out.
    private static bool IsOwn(string clientId) => clientId.Length > 0 && clientId[0] == '\0';

    private List<Session> SessionList()
    {
        lock (_sessionsLock)
            return [.. _sessions.Values.Where(s => !IsOwn(s.ClientId))];
    }

    /// A TimeProvider timestamp as wall-clock time.
    internal DateTimeOffset WallClockOf(long ticks) => TimeProvider.GetUtcNow() - TimeProvider.GetElapsedTime(ticks);

    BrokerOverview IBrokerAdmin.GetOverview()
    {
        var s = Statistics;
        int sessions;
        lock (_sessionsLock)
            sessions = _sessions.Keys.Count(id => !IsOwn(id));
        return new BrokerOverview(Version, WallClockOf(StartedAtTicks), Interlocked.Read(ref s.ClientsConnected),
            Interlocked.Read(ref s.ClientsMaximum), Interlocked.Read(ref s.ConnectionsTotal), sessions, Subscriptions.Count, Retained.Count,
            Interlocked.Read(ref s.MessagesReceived), Interlocked.Read(ref s.MessagesSent), Interlocked.Read(ref s.MessagesDropped),
            Interlocked.Read(ref s.BytesReceived), Interlocked.Read(ref s.BytesSent), Store.Healthy);
    }

    IReadOnlyList<ClientSnapshot> IBrokerAdmin.GetClients() => [.. SessionList().Select(DescribeClient)];

    ClientSnapshot? IBrokerAdmin.GetClient(string clientId) =>
        IsOwn(clientId) || FindSession(clientId) is not { } session ? null : DescribeClient(session);

    private static ClientSnapshot DescribeClient(Session session)
    {
        IDeliveryTarget? owner;
        lock (session.Sync)
            owner = session.Owner;
        return owner?.Describe(session.ClientId) ?? new ClientSnapshot(session.ClientId, false, null, null, null, null, null, 0);
    }

    IReadOnlyList<SessionSnapshot> IBrokerAdmin.GetSessions() => [.. SessionList().Select(DescribeSession)];

    SessionSnapshot? IBrokerAdmin.GetSession(string clientId) =>
        IsOwn(clientId) || FindSession(clientId) is not { } session ? null : DescribeSession(session);

    private SessionSnapshot DescribeSession(Session session)
    {
        lock (session.Sync)
        {
            DateTimeOffset? expiresAt = session.Owner is null && session.ExpiryInterval != uint.MaxValue
                ? WallClockOf(session.DisconnectedAtTicks) + TimeSpan.FromSeconds(session.ExpiryInterval)
                : null;
            return new SessionSnapshot(session.ClientId, session.Owner is not null, session.PendingOrNull?.Count ?? 0,
                session.PendingOrNull?.Bytes ?? 0, session.InflightCount, session.ExpiryInterval, expiresAt,
                session.HasSubscriptions ? session.Subscriptions.Count : 0, session.DropsByReason());
        }
    }

    IReadOnlyList<SubscriptionSnapshot>? IBrokerAdmin.GetSubscriptions(string clientId)
    {
        if (IsOwn(clientId) || FindSession(clientId) is not { } session)
            return null;
        lock (session.Sync)
        {
            if (!session.HasSubscriptions)
                return [];
            return [.. session.Subscriptions.Values.Select(s => new SubscriptionSnapshot(s.Filter, s.ShareName, s.GrantedQoS,
                s.Options.NoLocal, s.Options.RetainAsPublished, s.Options.RetainHandling, s.SubscriptionId))];
        }
    }

    (ReasonCode Code, string? Reason)? IBrokerAdmin.Subscribe(string clientId, TopicSubscription subscription)
    {
        ArgumentNullException.ThrowIfNull(subscription.Filter);
        if (IsOwn(clientId) || FindSession(clientId) is not { } session)
            return null;
        // The ACL is left out (AllowAll): the administrator decides what the session receives.
        var administrator = new Subscriber(clientId, null, AllowAll.Instance, V5: true, WantsReasonString: true);
        var outcome = Subscribe(session, administrator, [subscription], subscriptionId: 0);
        DeliverRetained(session, outcome);
        var code = outcome.Codes[0];
        _logger.LogInformation("Subscription {Filter} of {ClientId} added by an administrator: {Code}",
            Protocol.Primitives.MqttText.Quote(subscription.Filter), Protocol.Primitives.MqttText.Quote(clientId), code);
        return (code, ReasonCodes.IsError(code) ? outcome.ReasonString : null);
    }

    ReasonCode? IBrokerAdmin.Unsubscribe(string clientId, string filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        if (IsOwn(clientId) || FindSession(clientId) is not { } session)
            return null;
        var administrator = new Subscriber(clientId, null, AllowAll.Instance, V5: true, WantsReasonString: false);
        return Unsubscribe(session, administrator, [filter]).Codes[0];
    }

    int IBrokerAdmin.SubscriptionCount => Subscriptions.Count;

    int IBrokerAdmin.RetainedCount => Retained.Count;

    TopicRateSnapshot? IBrokerAdmin.GetTopicRates() => TopicRates?.Snapshot();

    IReadOnlyList<RetainedSnapshot> IBrokerAdmin.FindRetained(string topicFilter, int limit)
    {
        ArgumentNullException.ThrowIfNull(topicFilter);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        if (TopicRules.ValidateTopicFilter(topicFilter) != DecodeError.None)
            throw new ArgumentException("Not a valid topic filter.", nameof(topicFilter));
        return [.. Retained.Match(topicFilter, TimeProvider).Take(limit).Select(m => new RetainedSnapshot(m.Topic, m.QoS, m.Payload.ToArray(),
            m.RemainingExpiry(TimeProvider), m.SenderClientId))];
    }

    IReadOnlyDictionary<DropReason, long> IBrokerAdmin.GetDrops() =>
        Enum.GetValues<DropReason>().ToDictionary(r => r, Metrics.DroppedCount);

    bool IBrokerAdmin.DisconnectClient(string clientId)
    {
        if (IsOwn(clientId) || FindSession(clientId) is not { } session)
            return false;
        IDeliveryTarget? owner;
        lock (session.Sync)
            owner = session.Owner;
        if (owner is null || owner.IsClosing)
            return false;
        _logger.LogInformation("Disconnecting client {ClientId} ({Remote}): administrative action", owner.LogName, owner.Origin);
        owner.RequestClose(ReasonCode.AdministrativeAction, "disconnected by an administrator");
        return true;
    }

    async Task<bool> IBrokerAdmin.DeleteSessionAsync(string clientId, CancellationToken cancellationToken)
    {
        if (IsOwn(clientId) || FindSession(clientId) is not { } session)
            return false;
        IDeliveryTarget? owner;
        long epoch;
        lock (session.Sync)
        {
            owner = session.Owner;
            epoch = session.Epoch;
        }

        if (owner is not null)
        {
            owner.RequestClose(ReasonCode.AdministrativeAction, "session deleted by an administrator");
            await owner.Finished.WaitAsync(TimeSpan.FromSeconds(5), TimeProvider, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        WillMessage? will;
        lock (_sessionsLock)
        {
            // The connection's close may have ended the session already (expiry 0), or a new one taken it: a client
            // that connected while we waited (a newer epoch, even if it has gone again) keeps what it made.
            if (!_sessions.TryGetValue(clientId, out var current) || current != session || session.Owner is not null || session.Epoch != epoch)
                return owner is not null && current != session;
            lock (session.Sync)
            {
                will = session.PendingWill;
                session.PendingWill = null;
            }

            DiscardSessionLocked(session);
        }

        _logger.LogInformation("Session {ClientId} deleted by an administrator", Protocol.Primitives.MqttText.Quote(clientId));
        if (will is not null)
            PublishWill(will, clientId);
        return true;
    }

    bool IBrokerAdmin.DeleteRetained(string topic)
    {
        ArgumentNullException.ThrowIfNull(topic);
        if (!Retained.Remove(topic))
            return false;
        Store.DeleteRetained(topic);
        return true;
    }

    /// kirisame.sessions.messages: what sessions hold, read per session under its lock when a listener collects.
    internal Measurement<long>[] QueueDepths()
    {
        long pending = 0, inflight = 0;
        foreach (var session in AllSessions())
        {
            lock (session.Sync)
            {
                pending += session.PendingOrNull?.Count ?? 0;
                inflight += session.InflightCount;
            }
        }

        return [new(pending, new KeyValuePair<string, object?>("state", "pending")), new(inflight, new KeyValuePair<string, object?>("state", "inflight"))];
    }

    internal long PendingBytes()
    {
        long bytes = 0;
        foreach (var session in AllSessions())
        {
            lock (session.Sync)
                bytes += session.PendingOrNull?.Bytes ?? 0;
        }

        return bytes;
    }

    /// A copy of the registry, so that collecting does not hold the registry lock (and with it every CONNECT)
    /// while it visits each session.
    private Session[] AllSessions()
    {
        lock (_sessionsLock)
            return [.. _sessions.Values];
    }
}
