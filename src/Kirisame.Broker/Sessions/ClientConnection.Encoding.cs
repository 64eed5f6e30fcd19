using System.Buffers;
using System.IO.Pipelines;
using Kirisame.Broker.Delivery;
using Kirisame.Broker.Diagnostics;
using Kirisame.Protocol;
using Kirisame.Protocol.Codec;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;
using Microsoft.Extensions.Logging;

namespace Kirisame.Broker.Sessions;

/// Encoding what the writer takes from the outbound queue: acknowledgements, control packets, and PUBLISHes as
/// this client receives them (its protocol version, topic aliases, Maximum Packet Size, forwarded properties).
#pragma warning disable CA1001 // see ClientConnection.cs: the frame reader's buffer is returned in CloseAsync
internal sealed partial class ClientConnection
#pragma warning restore CA1001
{
    private protected override int Write(PipeWriter output, in Outbound item)
    {
        var statistics = _broker.Statistics;
        switch (item.Kind)
        {
            case OutboundKind.Publish:
                return WritePublish(output, item);

            case OutboundKind.Ack:
                var written = MqttEncoder.WritePublishAck(output.GetSpan(5), item.AckType, item.PacketId, item.Reason, Version);
                output.Advance(written);
                Interlocked.Add(ref statistics.BytesSent, written);
                return written;
            case OutboundKind.PingResp:
                output.Write(MqttEncoder.PingResp);
                Interlocked.Add(ref statistics.BytesSent, 2);
                return 2;
            case OutboundKind.Packet:
                var packetSize = MqttEncoder.GetSize(item.Packet!, Version);
                // Reason String and User Properties are the first to go when the packet would exceed the client's
                // Maximum Packet Size [MQTT-3.2.2-19], [MQTT-3.2.2-20], [MQTT-3.4.2-2], [MQTT-3.14.2-3] and the like.
                if (packetSize > ClientMaximumPacketSize && DropProblemInformation(item.Packet!))
                    packetSize = MqttEncoder.GetSize(item.Packet!, Version);
                MqttEncoder.Write(output, item.Packet!, Version);
                Interlocked.Add(ref statistics.BytesSent, packetSize);
                return packetSize;
            default:
                return 0;
        }
    }

    private int WritePublish(PipeWriter output, in Outbound item)
    {
        var statistics = _broker.Statistics;
        var message = item.Message!;
        var remaining = message.RemainingExpiry(_broker.TimeProvider);
        if (remaining == 0 && !item.Dup)
        {
            // Expired while queued: never delivered [MQTT-3.3.2-5]. A re-send (DUP) is not dropped: its
            // delivery has started, and the exchange must finish [MQTT-4.3.3-7], [MQTT-4.4.0-1].
            Dropped(DropReason.Expired);
            if (item.QoS != QualityOfService.AtMostOnce)
                _broker.CompleteInflight(Session, this, item.PacketId);
            return 0;
        }

        if (message.ShareEncoding && !item.Dup && IsSharedVariant(message, item))
        {
            var shared = WriteShared(output, message, item);
            if (shared >= 0)
                return shared;
        }

        var topic = message.TopicUtf8;
        ushort alias = 0;
        if (ClientTopicAliasMaximum > 0 && AssignAlias(message.Topic, out alias, out var known) && known)
            topic = default; // the client already maps this alias to the topic
        var publish = new PublishPacket
        {
            QoS = item.QoS,
            Retain = item.Retain,
            Dup = item.Dup,
            PacketId = item.PacketId,
            Topic = topic,
            Payload = message.Payload,
            Properties = Version == ProtocolVersion.V500 ? ForwardedProperties(message, remaining, item.SubscriptionIds, alias) : default,
        };
        var size = MqttEncoder.GetPublishSize(publish, Version);
        if (size > ClientMaximumPacketSize)
        {
            // Too large for this client: not sent, not truncated, counted [MQTT-3.1.2-25].
            Dropped(DropReason.TooLarge);
            if (alias != 0 && !topic.IsEmpty)
                _outboundAliases!.Remove(message.Topic); // never told to the client
            if (item.QoS != QualityOfService.AtMostOnce)
                _broker.CompleteInflight(Session, this, item.PacketId);
            return 0;
        }

        MqttEncoder.WritePublish(output.GetSpan(size), publish, Version);
        output.Advance(size);
        _broker.Metrics.Sent(item.QoS, message.Payload.Length);
        Interlocked.Add(ref statistics.BytesSent, size);
        return size;
    }

    /// Whether this client receives the bytes every subscriber of this variant does (see SharedEncoding).
    private bool IsSharedVariant(BrokerMessage message, in Outbound item) =>
        Version != ProtocolVersion.V500
        || (ClientTopicAliasMaximum == 0 && item.SubscriptionIds is not { Length: > 0 } && message.Properties.MessageExpiryInterval is null);

    /// Writes the shared encoding of this PUBLISH, making it if nobody has: the bytes are copied and this
    /// session's packet identifier patched in. Returns the bytes written, 0 when the message is too large for
    /// this client (dropped, as below), or -1 when there is no shared encoding to use (the caller encodes).
    private int WriteShared(PipeWriter output, BrokerMessage message, in Outbound item)
    {
        var key = SharedEncoding.Key(Version, item.QoS, item.Retain);
        if (!message.TryGetEncoded(key, out var encoded, out var packetIdOffset))
        {
            if (!message.TryClaimEncoding())
                return -1;
            var publish = new PublishPacket
            {
                QoS = item.QoS,
                Retain = item.Retain,
                Topic = message.TopicUtf8,
                Payload = message.Payload,
                Properties = Version == ProtocolVersion.V500 ? message.Properties : default,
            };
            var length = MqttEncoder.GetPublishSize(publish, Version);
            var buffer = message.EncodedBuffer(length);
            MqttEncoder.WritePublish(buffer, publish, Version);
            packetIdOffset = item.QoS == QualityOfService.AtMostOnce ? 0 : SharedEncoding.PacketIdOffset(buffer, message.TopicUtf8.Length);
            message.PublishEncoded(key, length, packetIdOffset);
            encoded = buffer.AsSpan(0, length);
        }

        if (encoded.Length > ClientMaximumPacketSize)
        {
            // Too large for this client: not sent, not truncated, counted [MQTT-3.1.2-25].
            Dropped(DropReason.TooLarge);
            if (item.QoS != QualityOfService.AtMostOnce)
                _broker.CompleteInflight(Session, this, item.PacketId);
            return 0;
        }

        var destination = output.GetSpan(encoded.Length);
        encoded.CopyTo(destination);
        if (item.QoS != QualityOfService.AtMostOnce)
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(destination[packetIdOffset..], item.PacketId);
        output.Advance(encoded.Length);
        _broker.Metrics.Sent(item.QoS, message.Payload.Length);
        Interlocked.Add(ref _broker.Statistics.BytesSent, encoded.Length);
        return encoded.Length;
    }

    /// The properties a v5 subscriber receives: the publisher's, with the expiry reduced by the time the
    /// message waited [MQTT-3.3.2-6] and this subscription's identifiers; never the publisher's Topic Alias.
    private static PublishProperties ForwardedProperties(BrokerMessage message, uint? remainingExpiry, uint[]? subscriptionIds, ushort alias)
    {
        var properties = message.Properties;
        if (properties.IsEmpty && (subscriptionIds is null || subscriptionIds.Length == 0) && alias == 0)
            return default;
        return properties with
        {
            MessageExpiryInterval = remainingExpiry,
            TopicAlias = alias,
            SubscriptionIdentifiers = subscriptionIds is { Length: > 0 } ? PropertyCodec.EncodeSubscriptionIdentifiers(subscriptionIds) : default,
        };
    }

    /// Removes the Reason String and User Properties of an acknowledgement, CONNACK, DISCONNECT or AUTH; false if
    /// it had none.
    private static bool DropProblemInformation(MqttPacket packet)
    {
        var properties = packet switch
        {
            ConnAckPacket p => p.Properties,
            DisconnectPacket p => p.Properties,
            PublishAckPacket p => p.Properties,
            SubAckPacket p => p.Properties,
            UnsubAckPacket p => p.Properties,
            AuthPacket p => p.Properties,
            _ => null,
        };
        if (properties is null || (properties.ReasonString is null && properties.UserProperties is null))
            return false;
        properties.ReasonString = null;
        properties.UserProperties = null;
        return true;
    }

    private Dictionary<string, ushort>? _outboundAliases;

    /// Server → client Topic Aliases, chosen by the writer (the only thread that uses them): the first
    /// topics sent get aliases until the client's maximum is reached, and keep them for the connection.
    /// <paramref name="known"/> says the client already has this alias, so the topic can be left empty.
    private bool AssignAlias(string topic, out ushort alias, out bool known)
    {
        _outboundAliases ??= new Dictionary<string, ushort>(StringComparer.Ordinal);
        if (_outboundAliases.TryGetValue(topic, out alias))
        {
            known = true;
            return true;
        }

        known = false;
        if (_outboundAliases.Count >= ClientTopicAliasMaximum)
            return false;
        alias = (ushort)(_outboundAliases.Count + 1);
        _outboundAliases[topic] = alias;
        return true;
    }

    private protected override void OnBatchWritten()
    {
        if (Session is { DrainWatched: true } session)
            _broker.BackPressure.Drained(session);
    }

    private protected override void OnWriteFailed(Exception exception) =>
        Logger.LogDebug("Connection {ConnectionId}: write failed: {Message}", Info.ConnectionId, exception.Message);

    /// Nothing more can be written: the read loop is told to stop, and the fault logged and counted.
    private protected override void OnWriterFaulted(Exception exception)
    {
        Interlocked.Increment(ref _broker.Statistics.ConnectionFaults);
        if (MayLog("connection fault"))
            Logger.LogError(exception, "Connection {ConnectionId} (client {ClientId}): writing failed; closing the connection", Info.ConnectionId, LogName);
        RequestClose(null);
    }
}
