using Kirisame.Broker.Delivery;
using Kirisame.Broker.Diagnostics;
using Kirisame.Broker.Sessions;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Microsoft.Extensions.Logging;

namespace Kirisame.Broker;

public sealed partial class MqttBroker
{
    /// Guards <see cref="_sessions"/>, each session's Owner and Epoch, and <see cref="_heldSessions"/>. The
    /// session registry (who may hold a client id) is asked outside it; this is the local state of the sessions.
    private readonly Lock _sessionsLock = new();
    private readonly Dictionary<string, Session> _sessions = new(StringComparer.Ordinal);

    /// Sessions in <see cref="_sessions"/> held by a client (Owner set); the others wait for theirs. Under the lock.
    private int _heldSessions;
    /// Sessions of the broker's own in-process clients among them ($SYS, the sessions standing for other nodes of a
    /// cluster): not a client's, so not in a tenant's session count. Under _sessionsLock.
    private int _ownSessions;

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

    /// The persistent sessions kept here without a connection, with the epoch of their last holder: what a cluster node
    /// states to the registry again after a silo (and the partitions on it) died. Node-local ids (U+0000) left out.
    internal List<(string ClientId, long Epoch)> OfflineSessions()
    {
        lock (_sessionsLock)
            return [.. _sessions.Values.Where(s => !s.IsConnected && s.Durable && !s.ClientId.Contains('\0', StringComparison.Ordinal)).Select(s => (s.ClientId, s.Epoch))];
    }

    /// Claims <paramref name="clientId"/> in the session registry and attaches its session to
    /// <paramref name="target"/>. A live holder is closed with 0x8E (takeover, [MQTT-3.1.4-3]) and awaited; then the
    /// session continues, or starts anew on clean start [MQTT-3.1.2-4]. The session records the claim's epoch,
    /// which fences everything the displaced holder does afterwards (docs/adr/0008).
    internal async Task<Attachment> AttachSessionAsync(IDeliveryTarget target, string connection, string clientId, bool cleanStart, uint expiry)
    {
        var claim = await SessionRegistry.ClaimAsync(clientId, new SessionHolder(SessionHolder.LocalNode, connection));
        var lease = claim.Lease;
        var unavailable = claim.Unavailable ?? (Cluster is { } cluster ? await cluster.TakeOverAsync(claim, cleanStart) : null);
        if (unavailable is not null)
        {
            _logger.LogInformation("Client {ClientId} ({Remote}) refused for now: {Why}", target.LogName, target.Origin, unavailable);
            return new Attachment(AttachOutcome.SessionUnavailable, null, false, lease);
        }

        // The holder the claim displaced (claim.Previous) is found here as the owner of the session; one that
        // had not attached yet finds the newer epoch itself, on the session or in the registry (ConfirmAsync).
        IDeliveryTarget? abandoned = null;
        while (true)
        {
            Attachment? attachment;
            IDeliveryTarget? holder;
            lock (_sessionsLock)
                attachment = TryAttachLocked(target, clientId, cleanStart, expiry, lease, abandoned, out holder);
            if (attachment is { } done)
                return await ConfirmAsync(done, target);

            _logger.LogInformation("Client {ClientId} connected again from {Remote}; closing the previous connection", target.LogName, target.Origin);
            holder!.RequestClose(ReasonCode.SessionTakenOver);
            await Task.WhenAny(holder.Finished, Task.Delay(TimeSpan.FromSeconds(5), TimeProvider));
            // Still the owner on the next round means it will not let go: stuck on I/O past the 5 s, or finished
            // without releasing (an in-process client closed while it was connecting). Waiting again would not
            // help; the session is taken from it.
            abandoned = holder;
        }
    }

    /// One round of <see cref="AttachSessionAsync"/>: attaches, refuses, or names the <paramref name="holder"/>
    /// to close first (and returns null). Caller holds _sessionsLock.
    private Attachment? TryAttachLocked(IDeliveryTarget target, string clientId, bool cleanStart, uint expiry, SessionLease lease,
        IDeliveryTarget? abandoned, out IDeliveryTarget? holder)
    {
        _sessions.TryGetValue(clientId, out var session);
        holder = session?.Owner;
        if (session is not null && session.Epoch > lease.Epoch)
        {
            // A newer claim of the id got here first: this older one must not take the session from it, nor
            // discard its state on clean start.
            holder = null;
            return new Attachment(AttachOutcome.TakenOver, null, false, lease);
        }

        if (holder is not null && holder == abandoned)
        {
            _logger.LogWarning("Client {ClientId}: the previous connection did not let go of its session; taking it", target.LogName);
            DetachLocked(session!);
            holder = null;
        }

        if (holder is not null)
            return null;
        var present = session is not null && !cleanStart;
        if (session is not null && cleanStart)
        {
            DiscardSessionLocked(session);
            session = null;
        }

        if (session is null)
        {
            if (expiry != 0 && Options.MaxOfflineSessions > 0 && _sessions.Count - _heldSessions >= Options.MaxOfflineSessions)
                return new Attachment(AttachOutcome.OverQuota, null, false, lease);
            if (Limits?.Quotas.MaxSessions is { } maxSessions && ClientSessionCountLocked >= maxSessions)
                return new Attachment(AttachOutcome.OverTenantQuota, null, false, lease);
            session = new Session(clientId, Store);
            _sessions[clientId] = session;
            if (IsOwn(clientId))
                _ownSessions++;
        }

        _heldSessions++;
        lock (session.Sync)
        {
            session.Owner = target;
            session.Epoch = lease.Epoch;
            session.ExpiryInterval = expiry;
            // A delayed will is cancelled when the session resumes in time [MQTT-3.1.3-9].
            session.PendingWill = null;
            session.Journal.ExpiryChanged();
        }

        return new Attachment(AttachOutcome.Attached, session, present, lease);
    }

    /// The session stops being held, its holder gone (or given up on). Caller holds _sessionsLock.
    private void DetachLocked(Session session)
    {
        _heldSessions--;
        lock (session.Sync)
        {
            session.Owner = null;
            session.Target = null;
            session.DisconnectedAtTicks = TimeProvider.GetTimestamp();
        }
    }

    /// The claim was the newest when made, but a newer one may have come while this one waited for the old
    /// holder — and attached and gone again, its session ended with it, leaving nothing here to compare epochs
    /// with. Asking the registry after attaching closes that gap: from the attach on, a newer claimant finds this
    /// holder as the session's owner and takes over as usual. A claim that holds nothing releases its lease.
    private async Task<Attachment> ConfirmAsync(Attachment attachment, IDeliveryTarget target)
    {
        var lease = attachment.Lease;
        if (attachment.Outcome == AttachOutcome.Attached)
        {
            if ((await SessionRegistry.FindAsync(lease.ClientId))?.Epoch == lease.Epoch)
                return attachment;
            // Overtaken: let go at once, as a client that connected and went away before its CONNACK would.
            ReleaseSession(attachment.Session!, target, lease.Epoch, will: null, ProtocolVersion.V500);
            attachment = attachment with { Outcome = AttachOutcome.TakenOver, Session = null, Present = false };
        }

        if (attachment.Outcome == AttachOutcome.TakenOver)
            _logger.LogInformation("Client {ClientId} from {Remote} was taken over while connecting", target.LogName, target.Origin);
        await SessionRegistry.ReleaseAsync(lease);
        return attachment;
    }

    internal void Established(ClientConnection connection)
    {
        Statistics.ClientConnected();
        if (BrokerTracing.Enabled)
            BrokerTracing.Connected(connection.ClientId, connection.Info, connection.Version, TimeProvider.GetElapsedTime(connection.ConnectedAtTicks));
    }

    /// After CONNACK: re-send what was in flight (PUBLISH with DUP, or PUBREL) in order [MQTT-4.4.0-1], then
    /// the pending queue as the window allows; from here on deliveries go straight to the connection.
    internal void Resume(Session session, IDeliveryTarget connection)
    {
        lock (session.Sync)
        {
            // Taken over between its attach and here (only a holder given up on can be): deliveries stay with the
            // new holder.
            if (session.Owner != connection)
                return;
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
                // An acknowledgement from a connection that was taken over still completes the exchange; what it
                // makes room for goes to the session's current target, which pumps on its own acknowledgements.
                if (session.Target == connection)
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
        _connections.Remove(connection);
        if (!connection.IsEstablished)
            return;
        Statistics.ClientDisconnected();
        Limits?.ConnectionClosed();
        if (BrokerTracing.Enabled)
            BrokerTracing.Disconnected(connection.ClientId, connection.Info, reason, publishWill, TimeProvider.GetElapsedTime(connection.ConnectedAtTicks));
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            // No reason: the client left without DISCONNECT (or the network dropped it), which is what an operator
            // needs to read, not "(null)".
            _logger.LogDebug("Client {ClientId} gone: {How}{Will}", connection.LogName,
                reason is { } code ? $"closed by the broker ({code})" : publishWill ? "connection lost without DISCONNECT" : "disconnected",
                publishWill && connection.Will is not null ? "; will published" : "");
        }
        var lease = connection.Lease;
        ReleaseSession(connection.Session!, connection, lease.Epoch, publishWill ? connection.Will : null, connection.Version);
        await SessionRegistry.ReleaseAsync(lease);
    }

    /// The target that held <paramref name="session"/> under <paramref name="epoch"/> has let go of it (its
    /// connection closed, an in-process client disconnected): the session ends or waits for its client, and
    /// <paramref name="will"/>, if any, is published now or when its delay is over [MQTT-3.1.3-9].
    ///
    /// Fenced by the epoch: a holder that a newer claim displaced — its clean-up running after the takeover —
    /// neither detaches, ends nor stores anything of the session, which belongs to the newer holder now. Its will
    /// is still published if it has no delay; a delayed one is not, since a new connection took the session
    /// before the delay was over [MQTT-3.1.3-9]. The registry lease is the caller's to release, after this.
    internal void ReleaseSession(Session session, IDeliveryTarget connection, long epoch, WillMessage? will, ProtocolVersion version)
    {
        var delay = will?.Properties?.WillDelayInterval ?? 0;
        Cluster?.Released(session.ClientId, epoch);
        bool held;
        lock (_sessionsLock)
        {
            // The owner as well as the epoch: a second release by the same holder (its epoch still on the session,
            // kept offline) must not detach it twice.
            held = session.Owner == connection && session.Epoch == epoch;
            if (held)
            {
                DetachLocked(session);
                lock (session.Sync)
                {
                    if (will is not null && delay != 0 && session.ExpiryInterval != 0)
                    {
                        // Under the registry lock with the detach: the next holder's attach cancels it.
                        session.PendingWill = will;
                        session.PendingWillVersion = version;
                        session.PendingWillAtTicks = TimeProvider.GetTimestamp() + (long)(delay * (double)TimeProvider.TimestampFrequency);
                    }

                    session.Journal.SessionChanged();
                }

                session.SignalDrained(); // publishers never wait for an offline session
            }
        }

        var ended = false;
        if (held)
        {
            RedispatchShared(session);
            // An offline session keeps its queue in the store only (when the store reads queues back).
            lock (session.Sync)
                EvictLocked(session);
            // Read again under the lock (only a newer holder can have changed it since, and then the epoch
            // differs); a persistent session does not take the lock a second time.
            if (session.ExpiryInterval == 0)
            {
                lock (_sessionsLock)
                {
                    // The session ends with its connection, unless a newer holder took it meanwhile (its epoch is
                    // on the session now; without this check the newer holder's session would be discarded).
                    if (session.Epoch == epoch && session.Owner is null && session.ExpiryInterval == 0)
                    {
                        DiscardSessionLocked(session);
                        ended = true;
                    }
                }
            }
        }

        if (will is not null && (delay == 0 || ended))
            PublishWill(will, session.ClientId);
    }

    /// Removes a session and its subscriptions. Caller holds _sessionsLock.
    private void DiscardSessionLocked(Session session)
    {
        if (_sessions.TryGetValue(session.ClientId, out var current) && current == session)
        {
            _sessions.Remove(session.ClientId);
            if (IsOwn(session.ClientId))
                _ownSessions--;
        }
        lock (session.Sync)
        {
            session.Journal.Ended();
            // Whoever still references the object (a connection finishing after a clean-start takeover, a
            // delivery matched just before) writes nothing more for this client id.
            session.Retire();
            if (session.HasSubscriptions)
            {
                foreach (var subscription in session.Subscriptions.Values)
                    Subscriptions.Remove(session, subscription.TopicFilter, subscription.ShareName);
            }

            session.Clear();
        }
    }

    internal void PublishWill(WillMessage will, string clientId)
    {
        var properties = PublishProperties.From(will.Properties);
        var message = new BrokerMessage(will.Topic, System.Text.Encoding.UTF8.GetBytes(will.Topic), will.Payload, will.QoS, will.Retain,
            properties with { TopicAlias = 0 }, clientId, TimeProvider.GetTimestamp());
        _logger.LogDebug("Publishing the will of {ClientId} to {Topic}", Protocol.Primitives.MqttText.Quote(clientId), Protocol.Primitives.MqttText.Quote(will.Topic));
        Publish(message);
    }
}
