using Kirisame.Broker.Delivery;
using Kirisame.Broker.Diagnostics;
using Kirisame.Broker.Sessions;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Microsoft.Extensions.Logging;

namespace Kirisame.Broker;

public sealed partial class MqttBroker
{
    private readonly Lock _sessionsLock = new();
    private readonly Dictionary<string, Session> _sessions = new(StringComparer.Ordinal);

    /// Sessions in <see cref="_sessions"/> held by a client (Owner set); the others wait for theirs. Under the lock.
    private int _heldSessions;

    /// Sessions that exist without a connection (persistent sessions whose client is away).
    public int OfflineSessionCount
    {
        get
        {
            lock (_sessionsLock)
                return _sessions.Count - _heldSessions;
        }
    }

    /// Sessions known to the broker, connected or not.
    public int SessionCount
    {
        get
        {
            lock (_sessionsLock)
                return _sessions.Count;
        }
    }

    /// The session held for a client id, connected or not (for diagnostics and tests).
    internal Session? FindSession(string clientId)
    {
        lock (_sessionsLock)
            return _sessions.GetValueOrDefault(clientId);
    }

    /// The registry decides who holds a client id. A live holder is closed with 0x8E (takeover,
    /// [MQTT-3.1.4-3]) and awaited; then the session continues, or starts anew on clean start [MQTT-3.1.2-4].
    /// No session (null) when a new persistent one would exceed Broker:MaxOfflineSessions.
    internal async Task<(Session? Session, bool Present)> AttachSessionAsync(IDeliveryTarget connection, string clientId, bool cleanStart, uint expiry)
    {
        while (true)
        {
            IDeliveryTarget? holder;
            lock (_sessionsLock)
            {
                _sessions.TryGetValue(clientId, out var session);
                holder = session?.Owner;
                if (holder is null)
                {
                    var present = session is not null && !cleanStart;
                    if (session is not null && cleanStart)
                    {
                        DiscardSessionLocked(session);
                        session = null;
                    }


                    if (session is null)
                    {
                        if (expiry != 0 && Options.MaxOfflineSessions > 0 && _sessions.Count - _heldSessions >= Options.MaxOfflineSessions)
                            return (null, false);
                        session = new Session(clientId, Store);
                        _sessions[clientId] = session;
                    }

                    _heldSessions++;
                    lock (session.Sync)
                    {
                        session.Owner = connection;
                        session.ExpiryInterval = expiry;
                        // A delayed will is cancelled when the session resumes in time [MQTT-3.1.3-9].
                        session.PendingWill = null;
                        session.Journal.ExpiryChanged();
                    }

                    return (session, present);
                }
            }

            _logger.LogInformation("Client {ClientId} connected again from {Remote}; closing the previous connection", connection.LogName, connection.Origin);
            holder.RequestClose(ReasonCode.SessionTakenOver);
            await Task.WhenAny(holder.Finished, Task.Delay(TimeSpan.FromSeconds(5), TimeProvider));
            if (!holder.Finished.IsCompleted)
            {
                // The old connection is stuck; take the session from it anyway.
                lock (_sessionsLock)
                {
                    if (_sessions.TryGetValue(clientId, out var stuck) && stuck.Owner == holder)
                    {
                        _heldSessions--;
                        lock (stuck.Sync)
                        {
                            stuck.Owner = null;
                            stuck.Target = null;
                        }
                    }
                }
            }
        }
    }

    internal void Established(ClientConnection connection) => Statistics.ClientConnected();

    /// After CONNACK: re-send what was in flight (PUBLISH with DUP, or PUBREL) in order [MQTT-4.4.0-1], then
    /// the pending queue as the window allows; from here on deliveries go straight to the connection.
    internal void Resume(Session session, IDeliveryTarget connection)
    {
        lock (session.Sync)
        {
            if (session.HasInflight)
            {
                foreach (var packetId in session.InflightOrder)
                {
                    var inflight = session.Inflight[packetId];
                    if (inflight.State == InflightState.AwaitingComp)
                    {
                        connection.EnqueueRelease(packetId, ReasonCode.Success);
                    }
                    else
                    {
                        var q = inflight.Queued;
                        connection.TryEnqueuePublish(q.Message, q.QoS, q.Retain, dup: true, packetId, q.SubscriptionIds);
                    }
                }
            }

            session.Target = connection;
            session.Dropping = false;
            session.Slow = false; // a new connection starts trusted to keep up
            PumpLocked(session, connection);
        }
    }

    /// Moves pending messages into the in-flight window, oldest first, then asks for more of a queue kept in the store
    /// when the window has drained. Caller holds session.Sync.
    private void PumpLocked(Session session, IDeliveryTarget connection)
    {
        if (session.PendingOrNull is not { } pending)
            return;
        while (session.InflightCount < connection.SendWindow && pending.TryDequeue(out var queued))
        {
            if (queued.Message.IsExpired(TimeProvider))
            {
                Metrics.Dropped(session, DropReason.Expired);
                session.Journal.Removed(queued);
                continue;
            }

            SendLocked(session, connection, queued);
        }

        RefillLocked(session);
    }

    private void SendLocked(Session session, IDeliveryTarget connection, QueuedMessage queued)
    {
        var packetId = session.NextPacketId();
        session.Inflight.Add(packetId, new InflightMessage(queued, packetId));
        session.InflightOrder.AddLast(packetId);
        session.Journal.InFlight(queued, packetId, InflightState.AwaitingAck);
        connection.TryEnqueuePublish(queued.Message, queued.QoS, queued.Retain, dup: false, packetId, queued.SubscriptionIds);
    }

    /// PUBACK, PUBREC or PUBCOMP from a subscriber, through the target that holds its session.
    internal void Acknowledged(Session session, IDeliveryTarget connection, ushort packetId, PacketType type, ReasonCode reason)
    {
        var sendRelease = false;
        lock (session.Sync)
        {
            if (!session.Inflight.TryGetValue(packetId, out var inflight))
            {
                if (type == PacketType.PubRec)
                    connection.EnqueueRelease(packetId, ReasonCode.PacketIdentifierNotFound);
                return;
            }

            var expected = inflight.Queued.QoS == QualityOfService.AtLeastOnce ? PacketType.PubAck
                : inflight.State == InflightState.AwaitingAck ? PacketType.PubRec : PacketType.PubComp;
            if (type != expected)
                return;
            if (type == PacketType.PubRec && !ReasonCodes.IsError(reason))
            {
                inflight.State = InflightState.AwaitingComp;
                session.Journal.InFlight(inflight.Queued, packetId, InflightState.AwaitingComp);
                sendRelease = true;
            }
            else
            {
                RemoveInflightLocked(session, packetId);
                PumpLocked(session, connection);
            }

            if (sendRelease)
                connection.EnqueueRelease(packetId, ReasonCode.Success);
        }

        if (!sendRelease)
            BackPressure.Drained(session);
    }

    /// A QoS 1/2 message that will not be sent after all (expired, too large): behave as if acknowledged.
    internal void CompleteInflight(Session? session, IDeliveryTarget connection, ushort packetId)
    {
        if (session is null)
            return;
        lock (session.Sync)
        {
            if (RemoveInflightLocked(session, packetId) && session.Target == connection)
                PumpLocked(session, connection);
        }

        BackPressure.Drained(session);
    }

    private bool RemoveInflightLocked(Session session, ushort packetId)
    {
        if (!session.Inflight.Remove(packetId, out var inflight))
            return false;
        session.InflightOrder.Remove(packetId);
        session.Journal.Removed(inflight.Queued);
        return true;
    }

    internal async Task ConnectionClosedAsync(ClientConnection connection, bool publishWill, ReasonCode? reason)
    {
        _connections.TryRemove(connection, out _);
        if (!connection.IsEstablished)
            return;
        Statistics.ClientDisconnected();
        if (_logger.IsEnabled(LogLevel.Debug))
            _logger.LogDebug("Client {ClientId} gone (reason {Reason}, will {Will})", connection.LogName, reason, publishWill && connection.Will is not null);
        ReleaseSession(connection.Session!, connection, publishWill ? connection.Will : null, connection.Version);
        await Task.CompletedTask;
    }

    /// The target that held <paramref name="session"/> has let go of it (its connection closed, an in-process
    /// client disconnected): the session ends or waits for its client, and <paramref name="will"/>, if any, is
    /// published now or when its delay is over [MQTT-3.1.3-9].
    internal void ReleaseSession(Session session, IDeliveryTarget connection, WillMessage? will, ProtocolVersion version)
    {
        var owned = false;
        lock (_sessionsLock)
        {
            if (session.Owner == connection)
            {
                _heldSessions--;
                lock (session.Sync)
                {
                    session.Owner = null;
                    session.Target = null;
                    session.DisconnectedAtTicks = TimeProvider.GetTimestamp();
                    session.Journal.SessionChanged();
                }

                session.SignalDrained(); // publishers never wait for an offline session
                owned = true;
            }
        }

        var ended = false;
        if (owned)
        {
            RedispatchShared(session);
            lock (session.Sync)
                EvictLocked(session);
            if (session.ExpiryInterval == 0)
            {
                lock (_sessionsLock)
                {
                    // Unless a new connection claimed it meanwhile, the session ends with its connection.
                    if (session.Owner is null)
                    {
                        DiscardSessionLocked(session);
                        ended = true;
                    }
                }
            }
        }

        if (will is not null)
        {
            var delay = will.Properties?.WillDelayInterval ?? 0;
            if (delay == 0 || ended)
            {
                PublishWill(will, session.ClientId);
            }
            else
            {
                lock (session.Sync)
                {
                    session.PendingWill = will;
                    session.PendingWillVersion = version;
                    session.PendingWillAtTicks = TimeProvider.GetTimestamp() + (long)(delay * (double)TimeProvider.TimestampFrequency);
                    session.Journal.SessionChanged();
                }
            }
        }

    }

    /// Removes a session and its subscriptions. Caller holds _sessionsLock.
    private void DiscardSessionLocked(Session session)
    {
        if (_sessions.TryGetValue(session.ClientId, out var current) && current == session)
            _sessions.Remove(session.ClientId);
        lock (session.Sync)
        {
            session.Journal.Ended();
            if (session.HasSubscriptions)
            {
                foreach (var subscription in session.Subscriptions.Values)
                    Subscriptions.Remove(session, subscription.TopicFilter, subscription.ShareName);
            }

            session.Clear();
        }
    }

    private void PublishWill(WillMessage will, string clientId)
    {
        var properties = PublishProperties.From(will.Properties);
        var message = new BrokerMessage(will.Topic, System.Text.Encoding.UTF8.GetBytes(will.Topic), will.Payload, will.QoS, will.Retain,
            properties with { TopicAlias = 0 }, clientId, TimeProvider.GetTimestamp());
        _logger.LogDebug("Publishing the will of {ClientId} to {Topic}", Protocol.Primitives.MqttText.Quote(clientId), Protocol.Primitives.MqttText.Quote(will.Topic));
        Publish(message);
    }
}
