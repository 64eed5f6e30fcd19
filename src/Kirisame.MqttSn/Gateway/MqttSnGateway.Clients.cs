using System.Net;
using System.Net.Sockets;
using Kirisame.MqttSn.Codec;
using Kirisame.MqttSn.Diagnostics;
using Kirisame.Protocol;
using Kirisame.Protocol.Primitives;
using Kirisame.Protocol.Topics;
using Microsoft.Extensions.Logging;

namespace Kirisame.MqttSn.Gateway;

/// Admission (CONNECT, bounded), discovery (SEARCHGW, ADVERTISE), QoS −1 and the keep-alive sweep.
public sealed partial class MqttSnGateway
{
    /// CONNECT (§6.3). State is created only for a well-formed CONNECT and only within MqttSn:MaxClients and
    /// MqttSn:MaxConnecting: UDP source addresses can be spoofed, so unknown senders must not grow the table.
    private void Connect(ReadOnlySpan<byte> body, SocketAddress from)
    {
        if (!SnConnect.TryParse(body, out var connect))
        {
            Malformed(SnMessageType.Connect, SnAddress.ToEndPoint(from));
            return;
        }

        // A new CONNECT from an address replaces what that address had (a client restarting, or waking to active).
        if (_clients.TryGetValue(from, out var previous))
            previous.Close(publishWill: false);

        if (connect.Protocol != SnConnect.ProtocolId)
        {
            Refuse(from, connect.ClientId, SnReturnCode.NotSupported, $"protocol id {connect.Protocol} is not MQTT-SN 1.2's (1)");
            return;
        }
        if (connect.ClientId.Length == 0)
        {
            Refuse(from, connect.ClientId, SnReturnCode.NotSupported, "an empty ClientId (a sleeping client is woken by it)");
            return;
        }
        if (_clients.Count >= Options.MaxClients)
        {
            Refuse(from, connect.ClientId, SnReturnCode.Congestion, $"MqttSn:MaxClients ({Options.MaxClients}) clients are connected");
            return;
        }
        if (Interlocked.Increment(ref _connecting) > Options.MaxConnecting)
        {
            Interlocked.Decrement(ref _connecting);
            Refuse(from, connect.ClientId, SnReturnCode.Congestion, $"MqttSn:MaxConnecting ({Options.MaxConnecting}) clients are in the middle of connecting");
            return;
        }

        var client = new SnClient(this, SnAddress.Copy(from), connect.ClientId);
        _clients[client.Address] = client;
        client.Start(connect);
    }

    /// A CONNECT refused before any state was made for it (throttled: anyone can send these).
    private void Refuse(SocketAddress from, string clientId, SnReturnCode code, string why)
    {
        Metrics.Refused();
        Throttled("CONNECT refused", SnAddress.ToEndPoint(from), $"client id {MqttText.Quote(clientId)}: {code}, {why}");
        Span<byte> message = stackalloc byte[SnWriter.SmallMessage];
        Send(message[..SnWriter.ReturnCode(message, SnMessageType.ConnAck, code)], from);
    }

    /// The client's CONNECT was accepted: it no longer counts against MqttSn:MaxConnecting.
    internal void Connected(SnClient client) => Interlocked.Decrement(ref _connecting);

    /// The client closed: out of the table (unless a newer client from its address already took its place).
    internal void Removed(SnClient client, bool wasConnecting)
    {
        _clients.TryRemove(new KeyValuePair<SocketAddress, SnClient>(client.Address, client));
        if (wasConnecting)
            Interlocked.Decrement(ref _connecting);
    }

    private (long Connecting, long Active, long Asleep) CountClients()
    {
        long connecting = 0, active = 0, asleep = 0;
        foreach (var client in _clients.Values)
        {
            switch (client.State)
            {
                case SnClientState.Connecting:
                    connecting++;
                    break;
                case SnClientState.Asleep or SnClientState.Awake:
                    asleep++;
                    break;
                case SnClientState.Active:
                    active++;
                    break;
            }
        }
        return (connecting, active, asleep);
    }

    /// SEARCHGW (§6.1): GWINFO to the sender. The radius is for forwarders; this gateway answers whatever it says.
    private void AnswerSearch(ReadOnlySpan<byte> body, SocketAddress from)
    {
        if (body.Length != 1)
        {
            Malformed(SnMessageType.SearchGw, SnAddress.ToEndPoint(from));
            return;
        }
        Span<byte> message = stackalloc byte[SnWriter.SmallMessage];
        Send(message[..SnWriter.GwInfo(message, (byte)Options.GatewayId)], from);
    }

    /// PUBLISH with QoS −1 (§6.8): no connection, a predefined topic id or a short name, published by the
    /// gateway's own session. Anything else from an address without a connection is dropped.
    private void PublishWithoutConnection(ReadOnlyMemory<byte> body, SocketAddress from)
    {
        if (!SnPublish.TryParse(body.Span, out var publish))
        {
            Malformed(SnMessageType.Publish, SnAddress.ToEndPoint(from));
            return;
        }

        var topic = publish.Flags.TopicIdType switch
        {
            SnTopicIdType.Predefined => Predefined.NameOf(publish.TopicId),
            SnTopicIdType.ShortName => SnClient.ShortName(publish.TopicId),
            _ => null,
        };
        if (publish.Flags.QoS != SnFlags.QoSMinusOne || topic is null || _anonymous is not { } anonymous)
        {
            Metrics.Dropped(SnDropReason.UnknownClient);
            Throttled("unknown client", SnAddress.ToEndPoint(from), publish.Flags.QoS == SnFlags.QoSMinusOne
                ? $"QoS -1 PUBLISH on {publish.Flags.TopicIdType} topic id {publish.TopicId}: only predefined ids and short names work without a connection"
                : "PUBLISH from an address with no MQTT-SN connection");
            return;
        }

        if (TopicRules.ValidateTopicName(topic) != DecodeError.None)
        {
            Malformed(SnMessageType.Publish, SnAddress.ToEndPoint(from));
            return;
        }
        // Not awaited: QoS 0 has no acknowledgement to wait for, and the receive loop must not wait for back-pressure.
        var pending = anonymous.PublishAsync(topic, body[5..], QualityOfService.AtMostOnce, publish.Flags.Retain);
        if (!pending.IsCompleted)
            _ = pending.AsTask();
        else if (pending.Result is var reason && SnReturnCodes.FromBroker(reason) != SnReturnCode.Accepted)
            Throttled("publish refused", SnAddress.ToEndPoint(from), $"QoS -1 PUBLISH to '{topic}' refused by the broker: {reason}");
    }

    private async Task SweepLoopAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(0.5), Time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                var now = Time.GetTimestamp();
                foreach (var client in _clients.Values)
                    client.Sweep(now);
                _throttle.Flush();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// ADVERTISE every MqttSn:AdvertiseInterval to MqttSn:AdvertiseAddress (§6.1), the first at start.
    private async Task AdvertiseLoopAsync()
    {
        if (Options.AdvertiseEndPoint is not { } target || Options.AdvertiseInterval <= TimeSpan.Zero)
            return;
        var to = target.Serialize();
        using var timer = new PeriodicTimer(Options.AdvertiseInterval, Time);
        try
        {
            do
            {
                var message = new byte[SnWriter.SmallMessage];
                var length = SnWriter.Advertise(message, (byte)Options.GatewayId, (ushort)Options.AdvertiseInterval.TotalSeconds);
                Send(message.AsSpan(0, length), to);
            }
            while (await timer.WaitForNextTickAsync(_stopping.Token));
        }
        catch (OperationCanceledException)
        {
        }
    }
}
