using Kirisame.Broker.Routing;
using Kirisame.Broker.Security;
using Kirisame.Broker.Sessions;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Primitives;
using Kirisame.Protocol.Topics;

namespace Kirisame.Broker;

/// Who subscribes: the identity the ACL checks, and how the answer is worded (3.1.1 has fewer reason codes;
/// only v5 clients that did not set Request Problem Information to 0 get a Reason String [MQTT-3.1.2-29]).
internal readonly record struct Subscriber(string ClientId, string? UserName, IAuthorizer Authorizer, bool V5, bool WantsReasonString);

/// The answer to a SUBSCRIBE or UNSUBSCRIBE: a reason code per filter, in order, and a Reason String naming
/// what was refused. For SUBSCRIBE, also the subscriptions whose retained messages are to be sent once the
/// client has been answered.
internal sealed class SubscriptionOutcome(int count)
{
    public List<ReasonCode> Codes { get; } = new(count);

    public string? ReasonString { get; set; }

    internal List<Subscription>? SendRetained { get; set; }
}

/// The SUBSCRIBE and UNSUBSCRIBE pipelines, one for every kind of client (network, in-process): limits,
/// authorization, availability, the per-client quota, then the session and the tree.
public sealed partial class MqttBroker
{
    internal SubscriptionOutcome Subscribe(Session session, in Subscriber who, IReadOnlyList<TopicSubscription> requests, uint subscriptionId)
    {
        var v5 = who.V5;
        var outcome = new SubscriptionOutcome(requests.Count);
        var codes = outcome.Codes;
        var problems = new AckProblems(who.WantsReasonString);
        foreach (var requested in requests)
        {
            // A network client's filters were checked by the decoder (a bad one is a malformed packet); an
            // in-process client's are checked here.
            if (TopicRules.ValidateTopicFilter(requested.Filter) != DecodeError.None)
            {
                codes.Add(v5 ? ReasonCode.TopicFilterInvalid : ReasonCode.UnspecifiedError);
                problems.Add("topic filter invalid:", requested.Filter);
                continue;
            }

            if (!WithinTopicLimits(System.Text.Encoding.UTF8.GetByteCount(requested.Filter), requested.Filter.AsSpan().Count('/') + 1))
            {
                codes.Add(v5 ? ReasonCode.TopicFilterInvalid : ReasonCode.UnspecifiedError);
                problems.Add("topic filter longer or deeper than this server accepts:", requested.Filter);
                continue;
            }

            if (!who.Authorizer.CanSubscribe(who.ClientId, who.UserName, requested.Filter))
            {
                codes.Add(v5 ? ReasonCode.NotAuthorized : ReasonCode.UnspecifiedError);
                problems.Add("not authorized to subscribe to", requested.Filter);
                continue;
            }

            var isShared = requested.Filter.StartsWith(TopicRules.SharePrefix, StringComparison.Ordinal);
            if (isShared && !Options.SharedSubscriptionAvailable)
            {
                codes.Add(v5 ? ReasonCode.SharedSubscriptionsNotSupported : ReasonCode.UnspecifiedError);
                problems.Add("shared subscriptions are not available:", requested.Filter);
                continue;
            }

            if (!Options.WildcardSubscriptionAvailable && TopicRules.HasWildcard(requested.Filter))
            {
                codes.Add(v5 ? ReasonCode.WildcardSubscriptionsNotSupported : ReasonCode.UnspecifiedError);
                problems.Add("wildcard subscriptions are not available:", requested.Filter);
                continue;
            }

            var granted = (int)requested.MaximumQoS > Options.MaximumQoS ? (QualityOfService)Options.MaximumQoS : requested.MaximumQoS;
            var shared = TopicRules.TryParseShared(requested.Filter, out var shareName, out var topicFilter);
            var options = requested with { MaximumQoS = granted };
            var subscription = new Subscription(session, requested.Filter, topicFilter, shared ? shareName : null, options, subscriptionId);
            bool existed, overQuota, retired;
            lock (session.Sync)
            {
                existed = session.Subscriptions.ContainsKey(requested.Filter);
                overQuota = !existed && Options.MaxSubscriptionsPerClient > 0 && session.Subscriptions.Count >= Options.MaxSubscriptionsPerClient;
                // Discarded under a connection still finishing (taken over with clean start): a subscription now
                // would route to a session nobody holds, and its client id belongs to the newer session.
                retired = session.IsRetired;
                if (!overQuota && !retired)
                {
                    session.Subscriptions[requested.Filter] = subscription;
                    session.Journal.Subscribed(subscription);
                    // In the tree under the session's lock, as a discard takes it out (registry → session → tree):
                    // added after the lock, it could land after the discard and outlive the session.
                    Subscriptions.Add(subscription);
                }
            }

            if (retired)
            {
                codes.Add(ReasonCode.UnspecifiedError);
                problems.Add("the session has ended:", requested.Filter);
                continue;
            }

            if (overQuota)
            {
                codes.Add(v5 ? ReasonCode.QuotaExceeded : ReasonCode.UnspecifiedError);
                problems.Add($"too many subscriptions (at most {Options.MaxSubscriptionsPerClient} per client):", requested.Filter);
                continue;
            }

            codes.Add((ReasonCode)granted);
            // Retained messages are not sent for shared subscriptions (section 4.8.2); Retain Handling decides the rest
            // [MQTT-3.3.1-9], [MQTT-3.3.1-10], [MQTT-3.3.1-11].
            if (subscription.ShareName is null && options.RetainHandling != RetainHandling.DoNotSend
                && !(options.RetainHandling == RetainHandling.SendOnNewSubscribe && existed))
            {
                (outcome.SendRetained ??= []).Add(subscription);
            }
        }

        outcome.ReasonString = problems.Text;
        return outcome;
    }

    /// After the SUBACK, with the RETAIN flag set (section 3.3.1.3); a re-subscription re-sends them [MQTT-3.8.4-4].
    internal void DeliverRetained(Session session, SubscriptionOutcome outcome)
    {
        if (outcome.SendRetained is null)
            return;
        foreach (var subscription in outcome.SendRetained)
        {
            foreach (var message in Retained.Match(subscription.TopicFilter, TimeProvider))
            {
                var qos = message.QoS < subscription.GrantedQoS ? message.QoS : subscription.GrantedQoS;
                Deliver(session, message, qos, retain: true, subscription.SubscriptionIds);
            }
        }
    }

    /// Broker:MaxTopicLength (UTF-8 bytes) and MaxTopicLevels, for topic names and filters alike.
    internal bool WithinTopicLimits(int length, int levels) =>
        length <= Options.MaxTopicLength && (Options.MaxTopicLevels == 0 || levels <= Options.MaxTopicLevels);

    internal SubscriptionOutcome Unsubscribe(Session session, in Subscriber who, IReadOnlyList<string> filters)
    {
        var outcome = new SubscriptionOutcome(filters.Count);
        var problems = new AckProblems(who.WantsReasonString);
        foreach (var filter in filters)
        {
            Subscription? removed;
            lock (session.Sync)
            {
                if (session.Subscriptions.Remove(filter, out removed))
                {
                    Subscriptions.Remove(session, removed.TopicFilter, removed.ShareName);
                    session.Journal.Unsubscribed(filter);
                }
            }

            outcome.Codes.Add(removed is null ? ReasonCode.NoSubscriptionExisted : ReasonCode.Success);
            if (removed is null)
                problems.Add("no subscription existed for", filter);
        }

        outcome.ReasonString = problems.Text;
        return outcome;
    }

    /// The Reason String of a SUBACK or UNSUBACK: one packet, one string, so it says what went wrong with each
    /// refused filter. The writer leaves it out when it would exceed the client's Maximum Packet Size
    /// [MQTT-3.9.2-1], [MQTT-3.11.2-1].
    private struct AckProblems(bool wanted)
    {
        /// Filters may be 64 KiB long and a SUBSCRIBE may hold many; a Reason String is at most 64 KiB.
        private const int MaximumFilterLength = 100;
        private const int MaximumLength = 1000;

        private System.Text.StringBuilder? _text;

        public void Add(string what, string filter)
        {
            if (!wanted || _text?.Length >= MaximumLength)
                return;
            _text = _text is null ? new System.Text.StringBuilder() : _text.Append("; ");
            _text.Append(what).Append(' ').Append(MqttText.Quote(filter, MaximumFilterLength));
            if (_text.Length >= MaximumLength)
                _text.Append("; …");
        }

        public readonly string? Text => _text?.ToString();
    }
}
