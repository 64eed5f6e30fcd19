using Kirisame.Broker.Clients;
using Kirisame.MqttSn.Codec;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Topics;
using Microsoft.Extensions.Logging;

namespace Kirisame.MqttSn.Gateway;

/// What a connected client sends: PUBLISH, REGISTER, SUBSCRIBE/UNSUBSCRIBE, will updates.
#pragma warning disable CA1001 // its CancellationTokenSources have no timers and its SemaphoreSlim no wait handle: nothing to free
internal sealed partial class SnClient
#pragma warning restore CA1001
{
    private InProcessClient Session => _session ?? throw new InvalidOperationException("Not connected.");

    /// The topic a PUBLISH names: a registered id, a predefined id, or a two-character short name (§6.8).
    private string? TopicOf(SnTopicIdType type, ushort topicId)
    {
        switch (type)
        {
            case SnTopicIdType.Normal:
                lock (_lock)
                    return _topics.NameOf(topicId);
            case SnTopicIdType.Predefined:
                return _gateway.Predefined.NameOf(topicId);
            default:
                return ShortName(topicId);
        }
    }

    public static string ShortName(ushort topicId) => string.Create(2, topicId, static (chars, id) =>
    {
        chars[0] = (char)(id >> 8);
        chars[1] = (char)(id & 0xFF);
    });

    private bool HandlePublish(ReadOnlyMemory<byte> body)
    {
        if (!SnPublish.TryParse(body.Span, out var publish))
            return false;
        var topic = TopicOf(publish.Flags.TopicIdType, publish.TopicId);
        var qos = Math.Max(0, publish.Flags.QoS); // QoS −1 from a connected client is published as QoS 0
        if (topic is null)
        {
            // An unknown id is answered "invalid topic id" whatever the QoS (§6.5), so the client can REGISTER.
            SendTopicAck(SnMessageType.PubAck, publish.TopicId, publish.MsgId, SnReturnCode.InvalidTopicId);
            _gateway.Throttled("publish refused", EndPoint, $"PUBLISH from {LogName} on unknown topic id {publish.TopicId} ({publish.Flags.TopicIdType})");
            return true;
        }

        if (qos == 2)
        {
            bool duplicate;
            lock (_lock)
                duplicate = !_qos2Received.Add(publish.MsgId);
            if (duplicate)
            {
                SendMsgId(SnMessageType.PubRec, publish.MsgId);
                return true;
            }
        }

        // The payload is a slice of the receive buffer: the broker copies it before PublishAsync first yields.
        var data = body[5..];
        var pending = Session.PublishAsync(topic, data, (QualityOfService)qos, publish.Flags.Retain);
        if (pending.IsCompleted)
            Published(topic, publish.TopicId, publish.MsgId, qos, pending.Result);
        else
            _ = PublishedLaterAsync(pending, topic, publish.TopicId, publish.MsgId, qos);
        return true;
    }

    private async Task PublishedLaterAsync(ValueTask<ReasonCode> pending, string topic, ushort topicId, ushort msgId, int qos)
    {
        ReasonCode reason;
        try
        {
            reason = await pending;
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException)
        {
            return; // the client went while the broker was busy
        }
        Published(topic, topicId, msgId, qos, reason);
    }

    private void Published(string topic, ushort topicId, ushort msgId, int qos, ReasonCode reason)
    {
        var code = SnReturnCodes.FromBroker(reason);
        if (code != SnReturnCode.Accepted)
            _gateway.Throttled("publish refused", EndPoint, $"PUBLISH from {LogName} to '{topic}' refused by the broker: {reason}");
        if (qos == 2 && code == SnReturnCode.Accepted)
        {
            SendMsgId(SnMessageType.PubRec, msgId);
            return;
        }

        if (qos == 2)
        {
            lock (_lock)
                _qos2Received.Remove(msgId);
        }
        // QoS 0 gets a PUBACK only to say it was refused (§6.5).
        if (qos > 0 || code != SnReturnCode.Accepted)
            SendTopicAck(SnMessageType.PubAck, topicId, msgId, code);
    }

    private bool HandlePubRel(ReadOnlySpan<byte> body)
    {
        if (!SnMsgIdOnly.TryParse(body, out var msgId))
            return false;
        lock (_lock)
            _qos2Received.Remove(msgId);
        SendMsgId(SnMessageType.PubComp, msgId);
        return true;
    }

    /// REGISTER from the client (§6.5): the id for a topic name it will publish to.
    private bool HandleRegister(ReadOnlySpan<byte> body)
    {
        if (!SnRegister.TryParse(body, out var register))
            return false;
        ushort id;
        SnReturnCode code;
        if (TopicRules.ValidateTopicName(register.TopicName) != DecodeError.None)
        {
            (id, code) = (0, SnReturnCode.NotSupported);
            _gateway.Throttled("register refused", EndPoint, $"REGISTER from {LogName}: '{register.TopicName}' is not a valid topic name");
        }
        else
        {
            bool added;
            lock (_lock)
                added = _topics.TryAdd(register.TopicName, out id);
            code = added ? SnReturnCode.Accepted : SnReturnCode.Congestion;
            if (!added)
                _gateway.Throttled("register refused", EndPoint, $"REGISTER from {LogName}: it has MqttSn:MaxTopicsPerClient ({_gateway.Options.MaxTopicsPerClient}) topic ids");
        }

        SendTopicAck(SnMessageType.RegAck, id, register.MsgId, code);
        return true;
    }

    private bool HandleSubscribe(SnMessageType type, ReadOnlySpan<byte> body)
    {
        if (!SnSubscribe.TryParse(body, out var subscribe))
            return false;
        var filter = subscribe.Flags.TopicIdType == SnTopicIdType.Predefined ? _gateway.Predefined.NameOf(subscribe.TopicId) : subscribe.TopicName;
        if (type == SnMessageType.Subscribe)
            _ = SubscribeAsync(filter, subscribe.Flags, subscribe.TopicId, subscribe.MsgId);
        else
            _ = UnsubscribeAsync(filter, subscribe.MsgId);
        return true;
    }

    /// SUBSCRIBE (§6.9): SUBACK carries the topic id for a name without wildcards (registered now), the predefined
    /// id, or 0x0000. Under the send gate, so no REGISTER or PUBLISH of a retained message overtakes the SUBACK.
    private async Task SubscribeAsync(string? filter, SnFlags flags, ushort predefinedId, ushort msgId)
    {
        await _sendGate.WaitAsync(_closed.Token).ConfigureAwait(false);
        try
        {
            var granted = SnFlags.Make(0);
            ushort topicId = 0;
            SnReturnCode code;
            if (filter is null)
            {
                code = SnReturnCode.InvalidTopicId;
                _gateway.Throttled("subscribe refused", EndPoint, $"SUBSCRIBE from {LogName} to unknown predefined topic id {predefinedId}");
            }
            else if (!TryTopicIdFor(filter, flags.TopicIdType, predefinedId, out topicId))
            {
                code = SnReturnCode.Congestion;
                _gateway.Throttled("subscribe refused", EndPoint, $"SUBSCRIBE from {LogName}: it has MqttSn:MaxTopicsPerClient ({_gateway.Options.MaxTopicsPerClient}) topic ids");
            }
            else
            {
                var qos = (QualityOfService)Math.Max(0, flags.QoS);
                var reason = (await Session.SubscribeAsync([new TopicSubscription(filter, qos)]).ConfigureAwait(false))[0];
                if (reason <= ReasonCode.GrantedQoS2)
                {
                    code = SnReturnCode.Accepted;
                    granted = SnFlags.Make((int)reason);
                }
                else
                {
                    code = SnReturnCodes.FromBroker(reason);
                    topicId = 0;
                    _gateway.Throttled("subscribe refused", EndPoint, $"SUBSCRIBE from {LogName} to '{filter}' refused by the broker: {reason}");
                }
            }

            Span<byte> message = stackalloc byte[SnWriter.SmallMessage + 1];
            _gateway.Send(message[..SnWriter.SubAck(message, granted, topicId, msgId, code)], Address);
        }
        catch (InvalidOperationException)
        {
            // Disconnected meanwhile.
        }
        finally
        {
            _sendGate.Release();
        }
    }

    private bool TryTopicIdFor(string filter, SnTopicIdType type, ushort predefinedId, out ushort topicId)
    {
        topicId = 0;
        if (type == SnTopicIdType.Predefined)
        {
            topicId = predefinedId;
            return true;
        }
        if (type == SnTopicIdType.ShortName || TopicRules.HasWildcard(filter) || TopicRules.ValidateTopicName(filter) != DecodeError.None)
            return true;
        lock (_lock)
            return _topics.TryAdd(filter, out topicId);
    }

    private async Task UnsubscribeAsync(string? filter, ushort msgId)
    {
        try
        {
            if (filter is not null)
                await Session.UnsubscribeAsync(filter).ConfigureAwait(false);
            SendMsgId(SnMessageType.UnsubAck, msgId);
        }
        catch (InvalidOperationException)
        {
            // Disconnected meanwhile.
        }
    }

    /// WILLTOPICUPD (§6.4): a new will topic (keeping the will message), or an empty one to delete the will.
    private bool HandleWillTopicUpdate(ReadOnlySpan<byte> body)
    {
        if (!SnWillTopic.TryParse(body, out var update))
            return false;
        var will = update.IsEmpty ? null : new WillMessage
        {
            Topic = update.Topic,
            QoS = (QualityOfService)Math.Max(0, update.Flags.QoS),
            Retain = update.Flags.Retain,
            Payload = _will?.Payload ?? [],
        };
        SendReturnCode(SnMessageType.WillTopicResp, UpdateWill(will));
        return true;
    }

    /// WILLMSGUPD (§6.4): a new will message for the will topic already set.
    private bool HandleWillMessageUpdate(ReadOnlySpan<byte> body)
    {
        var code = SnReturnCode.NotSupported;
        if (_will is { } current)
            code = UpdateWill(new WillMessage { Topic = current.Topic, QoS = current.QoS, Retain = current.Retain, Payload = body.ToArray() });
        else
            _gateway.Throttled("will refused", EndPoint, $"WILLMSGUPD from {LogName} without a will topic");
        SendReturnCode(SnMessageType.WillMsgResp, code);
        return true;
    }

    private SnReturnCode UpdateWill(WillMessage? will)
    {
        try
        {
            Session.UpdateWill(will);
            _will = will;
            return SnReturnCode.Accepted;
        }
        catch (InProcessClientException ex)
        {
            _gateway.Throttled("will refused", EndPoint, $"will update from {LogName} refused by the broker: {ex.Message}");
            return SnReturnCodes.FromBroker(ex.Reason);
        }
    }
}
