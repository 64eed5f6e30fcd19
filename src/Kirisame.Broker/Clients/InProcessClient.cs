using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Kirisame.Broker.Delivery;
using Kirisame.Broker.Diagnostics;
using Kirisame.Broker.Sessions;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Primitives;
using Kirisame.Protocol.Topics;
using Microsoft.Extensions.Logging;

namespace Kirisame.Broker.Clients;

/// A client of the broker in the same process: it connects with a client id, publishes, subscribes and
/// receives under the same authorization, limits and QoS rules as a network client, and no MQTT bytes are made
/// for it. Its session is an ordinary session (takeover, persistence, expiry, wills all apply); deliveries
/// wait in a queue until read, and a QoS 1/2 delivery is acknowledged when it is read, so an unread one is
/// delivered again after a reconnect to a persistent session.
///
/// Dispose it (or <see cref="DisconnectAsync"/>) when done: until then it holds its client id.
public sealed class InProcessClient : IAsyncDisposable
{
    private readonly MqttBroker _broker;
    private readonly InProcessClientOptions _options;
    private readonly Target _target;
    private readonly Channel<Entry> _deliveries = Channel.CreateUnbounded<Entry>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false });
    private Session? _session;

    /// The registry lease under which it holds <see cref="_session"/>.
    private SessionLease _lease;
    private int _queuedQoS0;
    private long _connectedAtTicks;

    private InProcessClient(MqttBroker broker, InProcessClientOptions options, string clientId)
    {
        _broker = broker;
        _options = options;
        ClientId = clientId;
        LogName = MqttText.Quote(clientId);
        _target = new Target(this);
        _will = options.Will;
        _authorizer = options.Trusted ? Security.AllowAll.Instance
            : options.Listener is { } listener ? broker.Authorizer.ForListener(listener) : broker.Authorizer;
    }

    /// The rules this client is held to (its listener's, when it names one).
    private readonly Security.IAuthorizer _authorizer;

    public string ClientId { get; }

    /// True when the connection continued a stored session (CONNACK's Session Present).
    public bool SessionPresent { get; private set; }

    public bool IsConnected => !_target.IsClosing;

    /// Why the client was disconnected by the broker (0x8E taken over, 0x8B shutting down, 0x97 queue full), or
    /// null while connected or after <see cref="DisconnectAsync"/>.
    public ReasonCode? DisconnectReason { get; private set; }

    /// Completes once the client is disconnected and its session handed back (ended, or kept for later).
    public Task Disconnected => _target.Finished;

    private string LogName { get; }

    /// How in-process clients are named to the session registry, which names network clients by connection id.
    private const string Holder = "in-process";

    private Session Session => _session ?? throw new InvalidOperationException("Not connected.");

    /// Connects: takes over a session another client holds under the same id, as a network CONNECT does.
    /// Throws <see cref="InProcessClientException"/> with the reason code a CONNACK would carry when refused.
    public static async Task<InProcessClient> ConnectAsync(MqttBroker broker, InProcessClientOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(broker);
        ArgumentNullException.ThrowIfNull(options);
        cancellationToken.ThrowIfCancellationRequested();
        var brokerOptions = broker.Options;
        if (broker.IsStopping)
            throw new InProcessClientException(ReasonCode.ServerShuttingDown, "the broker is stopping");
        if (options.Will is { } will)
            CheckWill(brokerOptions, will);

        var clientId = options.ClientId.Length > 0 ? options.ClientId : "kirisame-" + Guid.NewGuid().ToString("N"); // as [MQTT-3.1.3-6]
        var expiry = brokerOptions.MaxSessionExpirySeconds is { } cap ? Math.Min(options.SessionExpiryInterval, cap) : options.SessionExpiryInterval;
        var client = new InProcessClient(broker, options, clientId);
        var attachment = await broker.AttachSessionAsync(client._target, Holder, clientId, options.CleanStart, expiry);
        switch (attachment.Outcome)
        {
            case AttachOutcome.OverQuota:
                throw new InProcessClientException(ReasonCode.QuotaExceeded, $"too many persistent sessions without a connection (Broker:MaxOfflineSessions {brokerOptions.MaxOfflineSessions})");
            case AttachOutcome.OverTenantQuota:
                throw new InProcessClientException(ReasonCode.QuotaExceeded, "the tenant holds its quota of sessions");
            case AttachOutcome.TakenOver:
                throw new InProcessClientException(ReasonCode.SessionTakenOver, "a newer connection with this client id came first");
            case AttachOutcome.SessionUnavailable:
                throw new InProcessClientException(ReasonCode.ServerUnavailable, "the session is on a cluster node that died and is being taken up by another node");
        }

        var session = attachment.Session!;
        client._lease = attachment.Lease;
        client._session = session;
        client._connectedAtTicks = broker.TimeProvider.GetTimestamp();
        client.SessionPresent = attachment.Present;
        broker.InProcessConnected(client);
        broker.Resume(session, client._target);
        return client;
    }

    private static void CheckWill(BrokerOptions brokerOptions, WillMessage will)
    {
        if (!brokerOptions.RetainAvailable && will.Retain)
            throw new InProcessClientException(ReasonCode.RetainNotSupported, "a retained will while retain is off");
        if ((int)will.QoS > brokerOptions.MaximumQoS)
            throw new InProcessClientException(ReasonCode.QoSNotSupported, "a will QoS above the maximum");
        if (TopicRules.ValidateTopicName(will.Topic) != DecodeError.None)
            throw new InProcessClientException(ReasonCode.TopicNameInvalid, "the will's topic is not a valid topic name");
    }

    /// Replaces the will (null: none) published when the client goes away, for a gateway whose protocol changes it
    /// while connected (MQTT-SN's WILLTOPICUPD/WILLMSGUPD). Checked as at connect: throws
    /// <see cref="InProcessClientException"/> with the reason when the broker would refuse it.
    public void UpdateWill(WillMessage? will)
    {
        if (will is not null)
            CheckWill(_broker.Options, will);
        Volatile.Write(ref _will, will);
    }

    private WillMessage? _will;

    /// Publishes. Returns Success, No matching subscribers (0x10), or why the broker refused it: 0x90 an invalid
    /// topic, 0x87 not authorized, 0x9B/0x9A a QoS or RETAIN the broker does not offer, 0x97 storage unavailable,
    /// and so on — the codes a v5 PUBACK would carry. A QoS 1/2 message completes once it is as durable as a
    /// network client's PUBACK promises (the store's durability mode).
    public async ValueTask<ReasonCode> PublishAsync(string topic, ReadOnlyMemory<byte> payload, QualityOfService qos = QualityOfService.AtMostOnce,
        bool retain = false, PublishProperties properties = default, CancellationToken cancellationToken = default)
    {
        // Back-pressure as for a network publisher: when a subscriber that keeps up is behind, this call waits
        // for it before returning (a gate per call: an in-process client may publish from many threads at once).
        var gate = new IngestGate(_session);
        ReasonCode reason;
        using (gate.Enter())
            reason = Publish(topic, payload, qos, retain, properties);
        if (gate.MustWait)
            await _broker.BackPressure.WaitAsync(gate, _target.Finished);
        if (qos != QualityOfService.AtMostOnce && !ReasonCodes.IsError(reason))
            await WhenDurableAsync(cancellationToken);
        return reason;
    }

    /// The publish itself, without waiting for durability (the broker's $SYS messages are QoS 0).
    internal ReasonCode Publish(string topic, ReadOnlyMemory<byte> payload, QualityOfService qos, bool retain, PublishProperties properties)
    {
        ArgumentNullException.ThrowIfNull(topic);
        if (_target.IsClosing)
            throw new InvalidOperationException("The client is disconnected.");
        if (TopicRules.ValidateTopicName(topic) != DecodeError.None)
            return ReasonCode.TopicNameInvalid;
        var topicUtf8 = System.Text.Encoding.UTF8.GetBytes(topic);
        var publisher = new Publisher(ClientId, _options.UserName, _authorizer, _options.IsBroker);
        // Traced as a network client's PUBLISH is (ADR 0019): the API's, a bridge's, a gateway's messages; not the
        // broker's own $SYS ones, which would be a trace every few seconds per topic.
        using var traced = BrokerTracing.Enabled && !_options.IsBroker ? BrokerTracing.StartInProcessPublish(properties, topic, ClientId, qos, payload.Length) : null;
        ReasonCode verdict;
        string? why;
        using (traced is null ? null : BrokerTracing.StartStep("authorize"))
            verdict = _broker.AdmitPublish(publisher, topic, topicUtf8, qos, retain, properties, payload.Span, out why);
        if (verdict != ReasonCode.Success)
        {
            BrokerTracing.Refused(traced, verdict, why);
            return verdict;
        }

        var publish = new PublishPacket { Topic = topicUtf8, Payload = payload, QoS = qos, Retain = retain, Properties = properties };
        int matched;
        using (var deliver = traced is null ? null : BrokerTracing.StartStep("deliver"))
        {
            matched = _broker.Publish(publish, qos, retain, topic, topicUtf8, ClientId, _broker.TimeProvider.GetTimestamp());
            deliver?.SetTag("kirisame.recipients", matched);
        }

        if (traced is not null && qos != QualityOfService.AtMostOnce)
            _broker.Store.WhenDurable(_broker.Store.Mark(), BrokerTracing.StoreCommitted, BrokerTracing.StoreCommitStarted(traced));
        return matched == 0 ? ReasonCode.NoMatchingSubscribers : ReasonCode.Success;
    }

    private async Task WhenDurableAsync(CancellationToken cancellationToken)
    {
        var store = _broker.Store;
        var mark = store.Mark();
        if (store.IsDurable(mark))
            return;
        var durable = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.WhenDurable(mark, static state => ((TaskCompletionSource)state!).TrySetResult(), durable);
        await durable.Task.WaitAsync(cancellationToken);
    }

    /// Subscribes; one reason code per filter, as a v5 SUBACK: the granted QoS, or why not. Retained messages
    /// that match are delivered after, as they are after a SUBACK.
    public Task<IReadOnlyList<ReasonCode>> SubscribeAsync(IReadOnlyList<TopicSubscription> subscriptions, uint subscriptionIdentifier = 0)
    {
        ArgumentNullException.ThrowIfNull(subscriptions);
        if (subscriptionIdentifier != 0 && !_broker.Options.SubscriptionIdentifiersAvailable)
            return Task.FromResult<IReadOnlyList<ReasonCode>>([.. subscriptions.Select(_ => ReasonCode.SubscriptionIdentifiersNotSupported)]);
        if (subscriptionIdentifier > VariableByteInteger.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(subscriptionIdentifier), "A Subscription Identifier is at most 268,435,455.");
        var session = Session;
        var outcome = _broker.Subscribe(session, AsSubscriber, subscriptions, subscriptionIdentifier);
        _broker.DeliverRetained(session, outcome);
        return Task.FromResult<IReadOnlyList<ReasonCode>>(outcome.Codes);
    }

    public Task<IReadOnlyList<ReasonCode>> SubscribeAsync(string filter, QualityOfService qos = QualityOfService.AtMostOnce) =>
        SubscribeAsync([new TopicSubscription(filter, qos)]);

    /// Unsubscribes; per filter Success, or No subscription existed (0x11).
    public Task<IReadOnlyList<ReasonCode>> UnsubscribeAsync(params IReadOnlyList<string> filters)
    {
        ArgumentNullException.ThrowIfNull(filters);
        return Task.FromResult<IReadOnlyList<ReasonCode>>(_broker.Unsubscribe(Session, AsSubscriber, filters).Codes);
    }

    private Subscriber AsSubscriber => new(ClientId, _options.UserName, _authorizer, V5: true, WantsReasonString: false);

    /// The next delivery, waiting for one. Throws <see cref="ChannelClosedException"/> once the client is
    /// disconnected and what was delivered before has been read.
    public async ValueTask<InProcessMessage> ReceiveAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var entry = await _deliveries.Reader.ReadAsync(cancellationToken);
            if (Take(entry) is { } message)
                return message;
        }
    }

    /// A delivery if one is waiting.
    public bool TryReceive([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out InProcessMessage? message)
    {
        while (_deliveries.Reader.TryRead(out var entry))
        {
            if (Take(entry) is { } taken)
            {
                message = taken;
                return true;
            }
        }

        message = null;
        return false;
    }

    /// Every delivery, as it comes, until the client is disconnected or <paramref name="cancellationToken"/> fires.
    public async IAsyncEnumerable<InProcessMessage> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await _deliveries.Reader.WaitToReadAsync(cancellationToken))
        {
            while (TryReceive(out var message))
                yield return message;
        }
    }

    /// A read delivery is acknowledged as a network client would once it has the message: PUBACK for QoS 1,
    /// PUBREC for QoS 2 (the broker's PUBREL is answered with PUBCOMP by <see cref="Target.EnqueueRelease"/>).
    private InProcessMessage? Take(in Entry entry)
    {
        var message = entry.Message;
        if (message.QoS == QualityOfService.AtMostOnce)
        {
            Interlocked.Decrement(ref _queuedQoS0);
            if (_session is { DrainWatched: true } session)
                _broker.BackPressure.Drained(session);
        }
        else if (_options.AcknowledgeOnRead)
        {
            Acknowledge(message.QoS, entry.PacketId);
        }

        return message;
    }

    /// Acknowledges a QoS 1/2 delivery read with <see cref="InProcessClientOptions.AcknowledgeOnRead"/> off: it leaves
    /// the session's window and is not delivered again. Does nothing for QoS 0, once disconnected (the session keeps
    /// it for the next connection), or when <see cref="InProcessClientOptions.AcknowledgeOnRead"/> is on.
    public void Acknowledge(InProcessMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.QoS == QualityOfService.AtMostOnce || _options.AcknowledgeOnRead || _target.IsClosing)
            return;
        Acknowledge(message.QoS, message.PacketId);
    }

    private void Acknowledge(QualityOfService qos, ushort packetId) =>
        _broker.Acknowledged(Session, _target, packetId, qos == QualityOfService.AtLeastOnce ? PacketType.PubAck : PacketType.PubRec, ReasonCode.Success);

    /// Disconnects. Without <paramref name="publishWill"/> the will is discarded, as after a DISCONNECT 0x00
    /// [MQTT-3.14.4-3]. Deliveries already queued can still be read.
    public Task DisconnectAsync(bool publishWill = false)
    {
        _target.Close(reason: null, publishWill);
        return _target.Finished;
    }

    public async ValueTask DisposeAsync() => await DisconnectAsync();

    /// Disconnects on the broker's behalf (shutting down): <paramref name="reason"/> is what the client is told.
    internal void Close(ReasonCode reason, bool publishWill) => _target.Close(reason, publishWill);

    private readonly record struct Entry(InProcessMessage Message, ushort PacketId);

    /// The client as its session sees it.
    private sealed class Target(InProcessClient client) : IDeliveryTarget
    {
        private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _closing;

        public string LogName => client.LogName;

        public string Origin => "in-process";

        public int SendWindow => Math.Max(1, Math.Min(client._broker.Options.MaxInflightMessages, (int)client._options.ReceiveMaximum));

        public bool IsClosing => Volatile.Read(ref _closing) != 0;

        public Task Finished => _finished.Task;

        public int Backlog => Volatile.Read(ref client._queuedQoS0);

        public long BacklogBytes => 0; // the deliveries are copies made for the reader; counted in messages only

        public bool OutputBlocked => client._deliveries.Reader.CanCount && client._deliveries.Reader.Count > 0;

        public bool TryEnqueuePublish(BrokerMessage message, QualityOfService qos, bool retain, bool dup, ushort packetId, uint[] subscriptionIds, bool mayDrop)
        {
            var broker = client._broker;
            if (qos == QualityOfService.AtMostOnce)
            {
                // Bounded like a network client's outbound queue: beyond it, when its reader is slow, the broker
                // drops and counts.
                if (mayDrop && Volatile.Read(ref client._queuedQoS0) >= broker.Options.MaxQueuedMessages)
                    return false;
                Interlocked.Increment(ref client._queuedQoS0);
            }

            var remaining = message.RemainingExpiry(broker.TimeProvider);
            if (remaining == 0 && !dup)
            {
                // Expired while queued: never delivered [MQTT-3.3.2-5]; a QoS 1/2 one leaves the window (outside
                // the session's lock, which the caller holds).
                if (client._session is { } session)
                    broker.Metrics.Dropped(session, DropReason.Expired);
                else
                    broker.Metrics.Dropped(DropReason.Expired);
                if (qos == QualityOfService.AtMostOnce)
                    Interlocked.Decrement(ref client._queuedQoS0);
                else
                    ThreadPool.UnsafeQueueUserWorkItem(static s => s.Target.Expired(s.PacketId), (Target: this, PacketId: packetId), preferLocal: false);
                return true;
            }

            var properties = message.Properties with { MessageExpiryInterval = remaining };
            var delivered = new InProcessMessage(message.Topic, message.Payload.ToArray(), qos, retain, dup, properties, subscriptionIds) { PacketId = packetId };
            broker.Metrics.Sent(qos, message.Payload.Length);
            return client._deliveries.Writer.TryWrite(new Entry(delivered, packetId)) || qos != QualityOfService.AtMostOnce;
        }

        public void EnqueueRelease(ushort packetId, ReasonCode reason)
        {
            // PUBREL needs no reader: it is answered with PUBCOMP at once, outside the session's lock.
            if (reason == ReasonCode.Success)
                ThreadPool.UnsafeQueueUserWorkItem(static s => s.Target.Complete(s.PacketId), (Target: this, PacketId: packetId), preferLocal: false);
        }

        private InProcessClient Client => client;

        private void Expired(ushort packetId) => Guarded(static (target, id) => target.Client._broker.CompleteInflight(target.Client._session, target, id), packetId);

        private void Complete(ushort packetId) => Guarded(static (target, id) =>
        {
            if (target.Client._session is { } session)
                target.Client._broker.Acknowledged(session, target, id, PacketType.PubComp, ReasonCode.Success);
        }, packetId);

        /// Work this target runs on the thread pool, where an exception would end the process: a fault ends this
        /// client only, counted and logged like a network connection's.
        private void Guarded(Action<Target, ushort> work, ushort packetId)
        {
            try
            {
                work(this, packetId);
            }
            catch (Exception ex)
            {
                Faulted(ex);
            }
        }

        private void Faulted(Exception ex)
        {
            Interlocked.Increment(ref client._broker.Statistics.ConnectionFaults);
            client._broker.LoggerFactory.CreateLogger("Kirisame.Connection")
                .LogError(ex, "In-process client {ClientId} failed; disconnecting it", client.LogName);
            Close(ReasonCode.UnspecifiedError, publishWill: true);
        }

        public Admin.ClientSnapshot Describe(string clientId) =>
            new(clientId, Connected: true, Origin, Listener: null, ProtocolVersion.V500, client._options.UserName,
                client._broker.WallClockOf(client._connectedAtTicks), KeepAlive: 0);

        public void RequestClose(ReasonCode? reason, string? why = null) => Close(reason, publishWill: true);

        /// Ends the client: no more deliveries; the session goes back to the broker (on the thread pool: callers
        /// may hold broker locks) with the will when it is to be published.
        public void Close(ReasonCode? reason, bool publishWill)
        {
            if (Interlocked.Exchange(ref _closing, 1) != 0)
                return;
            client.DisconnectReason = reason;
            client._deliveries.Writer.TryComplete();
            ThreadPool.UnsafeQueueUserWorkItem(static s => _ = s.Target.ReleaseAsync(s.PublishWill), (Target: this, PublishWill: publishWill), preferLocal: false);
        }

        private async Task ReleaseAsync(bool publishWill)
        {
            try
            {
                if (client._session is { } session)
                {
                    var lease = client._lease;
                    client._broker.ReleaseSession(session, this, lease.Epoch, publishWill ? Volatile.Read(ref client._will) : null, ProtocolVersion.V500);
                    await client._broker.SessionRegistry.ReleaseAsync(lease);
                }

                client._broker.InProcessDisconnected(client);
            }
            catch (Exception ex)
            {
                Interlocked.Increment(ref client._broker.Statistics.ConnectionFaults);
                client._broker.LoggerFactory.CreateLogger("Kirisame.Connection")
                    .LogError(ex, "In-process client {ClientId}: releasing its session failed", client.LogName);
            }
            finally
            {
                _finished.TrySetResult();
            }
        }
    }
}

/// An in-process client was refused, with the reason code a CONNACK would carry.
public sealed class InProcessClientException(ReasonCode reason, string message) : Exception(message)
{
    public ReasonCode Reason { get; } = reason;
}
