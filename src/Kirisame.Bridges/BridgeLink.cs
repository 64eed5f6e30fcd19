using Kirisame.Broker;
using Kirisame.Broker.Clients;
using Kirisame.Client;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Microsoft.Extensions.Logging;

namespace Kirisame.Bridges;

/// One connected period of a bridge: the remote connection and the local persistent session, with a pump each way.
///
/// Out: the local session subscribes to the "out" filters with No Local (what this bridge brought in never goes
/// back out) and acknowledges nothing on read; a QoS 1/2 message is acknowledged locally only once the remote has
/// acknowledged it (PUBACK/PUBCOMP). What is unacknowledged when the link ends stays in the local session (on disk
/// with a persistent store, ADR 0010) and is sent again on the next link, as is what arrives while there is none.
/// In: the remote subscriptions are made with No Local (5.0; 3.1.1 relies on the bridge flag) and a remote QoS 1/2
/// message is acknowledged to the remote once the local broker holds it durably.
internal sealed partial class BridgeLink(BridgeOptions options, MqttBroker broker, MqttClient remote, BridgeStatus status, ILogger logger)
{
    public static InProcessClientOptions LocalOptions(BridgeOptions options) => new()
    {
        ClientId = "$bridge/" + options.Name,
        CleanStart = false,
        SessionExpiryInterval = uint.MaxValue, // never expires: it is the bridge's queue while the remote is away
        AcknowledgeOnRead = false,
        ReceiveMaximum = 100,
        Trusted = true,
    };

    /// The local subscriptions of the "out" rules. Retained messages are forwarded when a subscription is new, not
    /// each time the link comes back; the retain flag is kept as published.
    public static IReadOnlyList<TopicSubscription> LocalSubscriptions(BridgeOptions options) =>
        [.. options.Topics.Where(r => r.Out).Select(r => new TopicSubscription(r.LocalFilter, r.QoS, NoLocal: true, RetainAsPublished: true,
            RetainHandling: RetainHandling.SendOnNewSubscribe))];

    /// Runs until the remote connection or the local session ends, or <paramref name="cancellationToken"/>; returns why.
    public async Task<string> RunAsync(CancellationToken cancellationToken)
    {
        await using var local = await InProcessClient.ConnectAsync(broker, LocalOptions(options), cancellationToken);
        if (LocalSubscriptions(options) is { Count: > 0 } localSubscriptions)
        {
            var granted = await local.SubscribeAsync(localSubscriptions);
            for (var i = 0; i < granted.Count; i++)
            {
                if (ReasonCodes.IsError(granted[i]))
                    LogLocalSubscriptionRefused(logger, options.Name, localSubscriptions[i].Filter, (byte)granted[i]);
            }
        }
        var inRules = options.Topics.Where(r => r.In).ToList();
        if (inRules.Count > 0)
        {
            var v5 = remote.ProtocolVersion == ProtocolVersion.V500;
            var codes = await remote.SubscribeAsync([.. inRules.Select(r => new TopicSubscription(r.RemoteFilter, r.QoS, NoLocal: v5, RetainAsPublished: v5))],
                cancellationToken: cancellationToken);
            for (var i = 0; i < codes.Count; i++)
            {
                if (ReasonCodes.IsError(codes[i]))
                    LogSubscriptionRefused(logger, options.Name, inRules[i].RemoteFilter, (byte)codes[i]);
            }
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var outbound = PumpOutAsync(local, stop.Token);
        var inbound = PumpInAsync(local, stop.Token);
        var cancelled = Task.Delay(Timeout.Infinite, cancellationToken);
        var first = await Task.WhenAny(remote.Disconnected, local.Disconnected, outbound, inbound, cancelled);
        await stop.CancelAsync();
        string why;
        if (first == remote.Disconnected)
            why = remote.Disconnected.Result.ToString();
        else if (first == local.Disconnected)
            why = $"the local session ended ({local.DisconnectReason?.ToString() ?? "disconnected"})";
        else if (first == cancelled)
            why = "the bridge is stopping";
        else
            why = first.Exception?.GetBaseException().Message ?? "a pump ended";
        await Task.WhenAll(Quietly(outbound), Quietly(inbound));
        await local.DisconnectAsync();
        return why;
    }

    private static async Task Quietly(Task task)
    {
        try
        {
            await task;
        }
        catch (Exception ex) when (ex is OperationCanceledException or MqttClientException or System.Threading.Channels.ChannelClosedException or InvalidOperationException)
        {
        }
    }

    private async Task PumpOutAsync(InProcessClient local, CancellationToken cancellationToken)
    {
        await foreach (var message in local.ReadAllAsync(cancellationToken))
        {
            if (!TopicMap.TryToRemote(options.Topics, message.Topic, out var remoteTopic, out var qos))
            {
                local.Acknowledge(message); // a subscription of an older configuration: nothing to forward to
                continue;
            }

            LogForward(logger, options.Name, "out", remoteTopic);
            var sending = remote.PublishAsync(remoteTopic, message.Payload, TopicMap.Min(message.QoS, qos), message.Retain,
                message.Properties with { SubscriptionIdentifiers = default }, CancellationToken.None);
            _ = sending.ContinueWith(t => Forwarded(t, local, message, remoteTopic), CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private void Forwarded(Task<ReasonCode> sending, InProcessClient local, InProcessMessage message, string remoteTopic)
    {
        if (!sending.IsCompletedSuccessfully)
            return; // the link ended first: the local session delivers it again on the next one
        if (ReasonCodes.IsError(sending.Result))
            LogRemoteRefused(logger, options.Name, remoteTopic, (byte)sending.Result);
        local.Acknowledge(message);
        Interlocked.Increment(ref status.ForwardedOut);
    }

    private async Task PumpInAsync(InProcessClient local, CancellationToken cancellationToken)
    {
        await foreach (var message in remote.Messages.ReadAllAsync(cancellationToken))
        {
            if (!TopicMap.TryToLocal(options.Topics, message.Topic, out var localTopic, out var qos))
            {
                remote.Acknowledge(message);
                continue;
            }

            var publishing = local.PublishAsync(localTopic, message.Payload, TopicMap.Min(message.QoS, qos), message.Retain,
                message.Properties with { SubscriptionIdentifiers = default }, CancellationToken.None).AsTask();
            _ = publishing.ContinueWith(t => Published(t, message, localTopic), CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private void Published(Task<ReasonCode> publishing, MqttMessage message, string localTopic)
    {
        if (!publishing.IsCompletedSuccessfully)
            return; // not stored locally: unacknowledged, the remote sends it again
        if (ReasonCodes.IsError(publishing.Result))
            LogLocalRefused(logger, options.Name, localTopic, (byte)publishing.Result);
        remote.Acknowledge(message);
        Interlocked.Increment(ref status.ForwardedIn);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Bridge {Bridge}: the local broker refused the subscription {Filter} (reason 0x{Reason:X2}); nothing matching it is forwarded")]
    private static partial void LogLocalSubscriptionRefused(ILogger logger, string bridge, string filter, byte reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Bridge {Bridge}: {Direction} {Topic}")]
    private static partial void LogForward(ILogger logger, string bridge, string direction, string topic);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bridge {Bridge}: the remote refused the subscription {Filter} (reason 0x{Reason:X2})")]
    private static partial void LogSubscriptionRefused(ILogger logger, string bridge, string filter, byte reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bridge {Bridge}: the remote refused a message to {Topic} (reason 0x{Reason:X2}); dropped")]
    private static partial void LogRemoteRefused(ILogger logger, string bridge, string topic, byte reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bridge {Bridge}: the local broker refused a message to {Topic} (reason 0x{Reason:X2}); dropped")]
    private static partial void LogLocalRefused(ILogger logger, string bridge, string topic, byte reason);
}
