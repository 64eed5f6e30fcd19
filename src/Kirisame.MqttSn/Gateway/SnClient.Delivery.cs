using System.Text;
using System.Threading.Channels;
using Kirisame.Broker.Clients;
using Kirisame.MqttSn.Codec;
using Kirisame.Protocol;
using Microsoft.Extensions.Logging;

namespace Kirisame.MqttSn.Gateway;

/// Deliveries to the client, one at a time as MQTT-SN wants (§6.13: one message awaiting acknowledgement per
/// direction): REGISTER first for a topic the client has no id for, then PUBLISH, then the acknowledgement, each
/// sent again every Tretry up to Nretry times. While the client sleeps nothing is read from its broker session:
/// the session is the sleeping client's buffer, under the broker's limits (QoS 0 up to Broker:MaxQueuedMessages,
/// QoS 1/2 in the session's queue), and what waited is sent when it wakes.
#pragma warning disable CA1001 // its CancellationTokenSources have no timers and its SemaphoreSlim no wait handle: nothing to free
internal sealed partial class SnClient
#pragma warning restore CA1001
{
    /// Held by the delivery in progress and by SUBSCRIBE until its SUBACK is sent (ordering).
    private readonly SemaphoreSlim _sendGate = new(1, 1);

    /// Completed when a sleeping client wakes (or the client closes).
    private TaskCompletionSource _wake = NewSignal();

    /// Cancelled when the client falls asleep: the pump stops waiting for deliveries.
    private CancellationTokenSource _sleeping = new();

    private PendingAck? _awaiting;
    private ushort _lastMsgId;

    /// A delivery read just before the client fell asleep, sent first when it wakes.
    private InProcessMessage? _held;

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task PumpAsync(InProcessClient session)
    {
        try
        {
            while (!_closed.IsCancellationRequested)
            {
                SnClientState state;
                Task wake;
                CancellationToken awake;
                lock (_lock)
                {
                    state = _state;
                    wake = _wake.Task;
                    awake = _sleeping.Token;
                }

                switch (state)
                {
                    case SnClientState.Asleep:
                        await wake.ConfigureAwait(false);
                        continue;
                    case SnClientState.Awake:
                        if (!await SendWhatWaitedAsync(session).ConfigureAwait(false))
                            return;
                        continue;
                    case SnClientState.Closed:
                        return;
                }

                InProcessMessage message;
                try
                {
                    message = await session.ReceiveAsync(awake).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    continue; // fell asleep (or closed): nothing was taken from the session
                }

                if (!await DeliverAsync(message).ConfigureAwait(false))
                    return;
            }
        }
        catch (ChannelClosedException)
        {
            // The broker ended the session: taken over by another connection with this client id, or shutting down.
            if (State != SnClientState.Closed)
            {
                LogEndedByBroker(Log, LogName, session.DisconnectReason?.ToString() ?? "disconnected");
                SendSmall(SnMessageType.Disconnect);
                Close(publishWill: false);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogFaulted(Log, ex, LogName);
            Close(publishWill: true);
        }
    }

    /// Awake (§6.14): everything the session holds now, then PINGRESP, and back to sleep.
    private async Task<bool> SendWhatWaitedAsync(InProcessClient session)
    {
        InProcessMessage? held;
        lock (_lock)
            (held, _held) = (_held, null);
        if (held is not null && !await DeliverAsync(held).ConfigureAwait(false))
            return false;
        while (session.TryReceive(out var message))
        {
            if (!await DeliverAsync(message).ConfigureAwait(false))
                return false;
        }

        lock (_lock)
        {
            if (_state != SnClientState.Awake)
                return true;
            _state = SnClientState.Asleep;
            _sleepStarted = _gateway.Time.GetTimestamp();
            _wake = NewSignal();
        }
        SendSmall(SnMessageType.PingResp);
        return true;
    }

    /// One message to the client. False when the client did not answer Nretry retransmissions (it is then lost).
    private async Task<bool> DeliverAsync(InProcessMessage message)
    {
        await _sendGate.WaitAsync(_closed.Token).ConfigureAwait(false);
        try
        {
            lock (_lock)
            {
                if (_state == SnClientState.Asleep)
                {
                    _held = message; // it fell asleep between reading this and sending it
                    return true;
                }
            }

            var topicId = TopicIdFor(message.Topic, out var type);
            if (type == SnTopicIdType.Normal && topicId == 0)
            {
                var registered = await RegisterAsync(message.Topic).ConfigureAwait(false);
                if (registered is null)
                    return false;
                if (registered == 0)
                    return Settled(message); // refused or no id left: this message is not deliverable to this client
                topicId = registered.Value;
            }

            var qos = (int)message.QoS;
            if (message.Payload.Length > SnFrame.MaxLength - 9)
            {
                _gateway.Throttled("delivery dropped", EndPoint, $"a {message.Payload.Length}-byte message on '{message.Topic}' does not fit an MQTT-SN datagram for {LogName}");
                return Settled(message);
            }

            var msgId = qos == 0 ? (ushort)0 : NextMsgId();
            var publish = SnWriter.Publish(SnFlags.Make(qos, message.Retain, type), topicId, msgId, message.Payload.Span);
            if (qos == 0)
            {
                _gateway.Send(publish, Address);
                return true;
            }

            var first = await ExchangeAsync(publish, qos == 1 ? SnMessageType.PubAck : SnMessageType.PubRec, msgId, SnPublish.FlagsOffset(publish.Length)).ConfigureAwait(false);
            if (first is null)
                return false;
            if (qos == 2 && await ExchangeAsync(SnWriter.MsgId(SnMessageType.PubRel, msgId), SnMessageType.PubComp, msgId, dupOffset: -1).ConfigureAwait(false) is null)
                return false;
            return Settled(message);
        }
        finally
        {
            _sendGate.Release();
        }
    }

    /// The delivery is over (the client acknowledged it, or it cannot be delivered to this client): the broker
    /// session lets go of it. Until then a QoS 1/2 delivery stays in the session's window, so one lost with the
    /// client (Nretry unanswered) is delivered again when a persistent session reconnects (the session is read with
    /// AcknowledgeOnRead off).
    private bool Settled(InProcessMessage message)
    {
        _session?.Acknowledge(message);
        return true;
    }

    /// A predefined id, a short name (a two-byte topic), or a registered normal id (0 when not yet registered).
    private ushort TopicIdFor(string topic, out SnTopicIdType type)
    {
        if (_gateway.Predefined.TryGetId(topic, out var predefined))
        {
            type = SnTopicIdType.Predefined;
            return predefined;
        }
        if (topic.Length == 2 && topic[0] < 0x80 && topic[1] < 0x80)
        {
            type = SnTopicIdType.ShortName;
            return (ushort)((topic[0] << 8) | topic[1]);
        }

        type = SnTopicIdType.Normal;
        lock (_lock)
            return _topics.TryGetId(topic, out var id) ? id : (ushort)0;
    }

    /// REGISTER from the gateway (§6.10): the id, or 0 when the client refused or no id is left, or null when the
    /// client did not answer.
    private async Task<ushort?> RegisterAsync(string topic)
    {
        ushort id;
        bool added;
        lock (_lock)
            added = _topics.TryAdd(topic, out id);
        if (!added)
        {
            _gateway.Throttled("delivery dropped", EndPoint, $"no topic id left for '{topic}' (MqttSn:MaxTopicsPerClient {_gateway.Options.MaxTopicsPerClient}) for {LogName}");
            return 0;
        }

        var msgId = NextMsgId();
        var code = await ExchangeAsync(SnWriter.Register(id, msgId, topic), SnMessageType.RegAck, msgId, dupOffset: -1).ConfigureAwait(false);
        if (code is null)
            return null;
        if (code == SnReturnCode.Accepted)
            return id;
        lock (_lock)
            _topics.Remove(topic);
        _gateway.Throttled("delivery dropped", EndPoint, $"{LogName} refused REGISTER of '{topic}' ({code})");
        return 0;
    }

    /// Sends <paramref name="message"/> and waits for <paramref name="reply"/> with its MsgId, sending again every
    /// Tretry (with DUP set for a PUBLISH) up to Nretry times (§6.13). Null when no answer came.
    private async Task<SnReturnCode?> ExchangeAsync(byte[] message, SnMessageType reply, ushort msgId, int dupOffset)
    {
        var pending = new PendingAck(reply, msgId);
        lock (_lock)
            _awaiting = pending;
        var options = _gateway.Options;
        for (var attempt = 0; attempt <= options.RetryCount; attempt++)
        {
            if (attempt > 0)
            {
                _gateway.Metrics.Retransmitted();
                if (dupOffset >= 0)
                    message[dupOffset] = SnFlags.WithDup(message[dupOffset]);
            }
            _gateway.Send(message, Address);
            try
            {
                return await pending.Answer.Task.WaitAsync(options.RetryInterval, _gateway.Time, _closed.Token).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }

        Lose($"no {reply} for MsgId {msgId} after {options.RetryCount} retransmissions every {options.RetryInterval.TotalSeconds:0.###} s");
        return null;
    }

    /// An acknowledgement from the client for what the pump is waiting on; others (late duplicates) are ignored.
    private bool Acknowledged(SnMessageType type, ushort msgId, SnReturnCode code)
    {
        PendingAck? matched = null;
        lock (_lock)
        {
            if (_awaiting is { } pending && pending.Reply == type && pending.MsgId == msgId)
                (matched, _awaiting) = (pending, null);
        }

        matched?.Answer.TrySetResult(code);
        return true;
    }

    private ushort NextMsgId()
    {
        lock (_lock)
        {
            _lastMsgId = _lastMsgId == ushort.MaxValue ? (ushort)1 : (ushort)(_lastMsgId + 1);
            return _lastMsgId;
        }
    }

    private sealed record PendingAck(SnMessageType Reply, ushort MsgId)
    {
        public TaskCompletionSource<SnReturnCode> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT-SN client {ClientId}: the broker ended its session ({Reason})")]
    private static partial void LogEndedByBroker(ILogger logger, string clientId, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "MQTT-SN client {ClientId}: delivering to it failed; disconnecting it")]
    private static partial void LogFaulted(ILogger logger, Exception exception, string clientId);
}
