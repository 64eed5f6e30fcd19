using System.Diagnostics;
using System.Text;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests;

/// MQTTnet 5 as an MQTT 5.0 client of the real server, one test per MQTT 5 feature. Where a test shows that
/// something did not arrive, it waits for a later message (or a PINGRESP) that the broker sends after it
/// would have, instead of waiting a guessed time; only the expiry and delay tests wait for time to pass,
/// because the passing of time is what they test.
public sealed class MqttNetV5InteropTests(KirisameV5Fixture fixture) : IClassFixture<KirisameV5Fixture>
{
    private const MqttQualityOfServiceLevel AtLeastOnce = MqttQualityOfServiceLevel.AtLeastOnce;

    private int Port => fixture.Port;

    private Task<MqttNetClient> ConnectAsync(string? clientId = null, Action<MqttClientOptionsBuilder>? configure = null) =>
        MqttNetClient.ConnectAsync(Port, MqttProtocolVersion.V500, clientId, configure);

    private static async Task<MqttClientSubscribeResult> SubscribeAsync(MqttNetClient client, Action<MqttClientSubscribeOptionsBuilder> build)
    {
        var builder = new MqttClientSubscribeOptionsBuilder();
        build(builder);
        using var cts = new CancellationTokenSource(MqttNetClient.Timeout);
        return await client.Client.SubscribeAsync(builder.Build(), cts.Token);
    }

    private static async Task<MqttClientPublishResult> PublishAsync(MqttNetClient client, MqttApplicationMessage message)
    {
        using var cts = new CancellationTokenSource(MqttNetClient.Timeout);
        return await client.Client.PublishAsync(message, cts.Token);
    }

    private static async Task EndSessionAsync(MqttNetClient client)
    {
        using var cts = new CancellationTokenSource(MqttNetClient.Timeout);
        await client.Client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithSessionExpiryInterval(0).Build(), cts.Token);
    }

    // ---------------------------------------------------------------- sessions

    [Fact]
    public async Task SessionExpiry_CleanStartAndSessionPresent_FollowTheSessionState()
    {
        var clientId = Unique.ClientId("v5-session");
        var topic = Unique.Topic("v5-session");
        void Resume(MqttClientOptionsBuilder o) => o.WithCleanStart(false).WithSessionExpiryInterval(300);

        // [MQTT-3.1.2-6] no session yet: a new one, and Session Present 0 [MQTT-3.2.2-3].
        await using (var first = await ConnectAsync(clientId, Resume))
        {
            Assert.False(first.ConnectResult!.IsSessionPresent);
            await first.SubscribeAsync(topic, AtLeastOnce);
        }

        // [MQTT-3.1.2-23] kept after the connection closed; [MQTT-3.1.2-5] resumed with its subscription.
        await using (var resumed = await ConnectAsync(clientId, Resume))
        {
            Assert.True(resumed.ConnectResult!.IsSessionPresent);
            await using var publisher = await ConnectAsync();
            await publisher.PublishAsync(topic, "still subscribed", AtLeastOnce);
            Assert.Equal("still subscribed", Assert.Single(await resumed.WaitForMessagesAsync(1)).Payload);
        }

        // [MQTT-3.1.2-4] Clean Start 1 discards the session: Session Present 0 [MQTT-3.2.2-2], no subscription.
        await using var fresh = await ConnectAsync(clientId, o => o.WithCleanStart(true).WithSessionExpiryInterval(300));
        Assert.False(fresh.ConnectResult!.IsSessionPresent);
        await using (var publisher = await ConnectAsync())
            await publisher.PublishAsync(topic, "after clean start", AtLeastOnce);
        await fresh.PingAsync();
        Assert.Equal(0, fresh.InboundPublishPackets);
        await EndSessionAsync(fresh);
    }

    [Fact]
    public async Task SessionExpiry_Elapsed_SessionIsGone()
    {
        var clientId = Unique.ClientId("v5-expiry");
        await using (var first = await ConnectAsync(clientId, o => o.WithCleanStart(false).WithSessionExpiryInterval(1)))
            await first.SubscribeAsync(Unique.Topic("v5-expiry"), AtLeastOnce);

        // The session may outlive its interval by up to the broker's one-second housekeeping tick.
        await Task.Delay(TimeSpan.FromSeconds(3));

        await using var again = await ConnectAsync(clientId, o => o.WithCleanStart(false).WithSessionExpiryInterval(0));
        Assert.False(again.ConnectResult!.IsSessionPresent);
    }

    [Fact]
    public async Task MessageExpiry_ExpiredQueuedMessageIsDropped_AndTheForwardedIntervalIsReduced()
    {
        var clientId = Unique.ClientId("v5-msg-expiry");
        var topic = Unique.Topic("v5-msg-expiry");
        void Resume(MqttClientOptionsBuilder o) => o.WithCleanStart(false).WithSessionExpiryInterval(300);
        await using (var subscriber = await ConnectAsync(clientId, Resume))
            await subscriber.SubscribeAsync(topic, AtLeastOnce);

        await using (var publisher = await ConnectAsync())
        {
            Assert.True((await PublishAsync(publisher, new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload("short-lived")
                .WithQualityOfServiceLevel(AtLeastOnce).WithMessageExpiryInterval(1).Build())).IsSuccess);
            Assert.True((await PublishAsync(publisher, new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload("long-lived")
                .WithQualityOfServiceLevel(AtLeastOnce).WithMessageExpiryInterval(60).Build())).IsSuccess);
        }

        await Task.Delay(TimeSpan.FromSeconds(2.5));

        await using var again = await ConnectAsync(clientId, Resume);
        Assert.True(again.ConnectResult!.IsSessionPresent);
        await again.WaitForMessagesAsync(1);
        // Both were queued in order, so the short-lived one would have come first [MQTT-3.3.2-5].
        var message = Assert.Single(again.ApplicationMessages);
        Assert.Equal("long-lived", message.ConvertPayloadToString());
        // [MQTT-3.3.2-6] 60 minus the time it waited (at least two seconds).
        Assert.InRange(message.MessageExpiryInterval, 1u, 58u);
        await EndSessionAsync(again);
    }

    // ---------------------------------------------------------------- topic aliases

    [Fact]
    public async Task TopicAlias_ClientToServer_AliasAloneIsResolvedToTheTopic()
    {
        var topic = Unique.Topic("v5-alias-in");
        await using var subscriber = await ConnectAsync();
        await subscriber.SubscribeAsync(topic, AtLeastOnce);
        await using var publisher = await ConnectAsync();
        Assert.True(publisher.ConnectResult!.TopicAliasMaximum >= 1);

        // The first PUBLISH sets alias 1 for the topic; the second carries the alias and an empty topic.
        Assert.True((await PublishAsync(publisher, new MqttApplicationMessageBuilder().WithTopic(topic).WithTopicAlias(1)
            .WithPayload("with topic").WithQualityOfServiceLevel(AtLeastOnce).Build())).IsSuccess);
        var second = await PublishAsync(publisher, new MqttApplicationMessageBuilder().WithTopic("").WithTopicAlias(1)
            .WithPayload("alias only").WithQualityOfServiceLevel(AtLeastOnce).Build());
        Assert.True(second.IsSuccess, $"{second.ReasonCode} {second.ReasonString}");

        var messages = await subscriber.WaitForMessagesAsync(2);
        Assert.Equal([(topic, "with topic"), (topic, "alias only")], messages.Select(m => (m.Topic, m.Payload)));
    }

    [Fact]
    public async Task TopicAlias_ServerToClient_FirstPublishSetsTheAlias_LaterOnesCarryItAlone()
    {
        var topic = Unique.Topic("v5-alias-out");
        await using var subscriber = await ConnectAsync(configure: o => o.WithTopicAliasMaximum(4));
        await subscriber.SubscribeAsync(topic, AtLeastOnce);
        await using var publisher = await ConnectAsync();

        for (var i = 1; i <= 3; i++)
            await publisher.PublishAsync(topic, $"m{i}", AtLeastOnce);

        await subscriber.WaitForMessagesAsync(3);
        var messages = subscriber.ApplicationMessages;
        // MQTTnet 5.2 hands incoming aliases to the application unresolved (it keeps no alias map), so the
        // test resolves them the way a client must.
        var aliases = new Dictionary<ushort, string>();
        var resolved = new List<string>();
        foreach (var message in messages)
        {
            Assert.InRange(message.TopicAlias, (ushort)1, (ushort)4); // [MQTT-3.3.2-11]
            if (!string.IsNullOrEmpty(message.Topic))
                aliases[message.TopicAlias] = message.Topic;
            resolved.Add(aliases[message.TopicAlias]);
        }
        Assert.Equal(topic, messages[0].Topic);
        Assert.All(messages.Skip(1), m => Assert.True(string.IsNullOrEmpty(m.Topic), $"expected alias only, got topic '{m.Topic}'"));
        Assert.Equal([topic, topic, topic], resolved);
        Assert.Equal(["m1", "m2", "m3"], messages.Select(m => m.ConvertPayloadToString()));
    }

    [Fact]
    public async Task TopicAlias_NotSentToAClientThatAllowsNone()
    {
        var topic = Unique.Topic("v5-alias-none");
        await using var subscriber = await ConnectAsync();
        await subscriber.SubscribeAsync(topic, AtLeastOnce);
        await using var publisher = await ConnectAsync();

        for (var i = 1; i <= 2; i++)
            await publisher.PublishAsync(topic, $"m{i}", AtLeastOnce);

        await subscriber.WaitForMessagesAsync(2);
        // [MQTT-3.1.2-27]
        Assert.All(subscriber.ApplicationMessages, m => Assert.Equal((topic, (ushort)0), (m.Topic, m.TopicAlias)));
    }

    // ---------------------------------------------------------------- subscription options

    [Fact]
    public async Task NoLocal_OwnMessagesAreNotReturned_OthersAre()
    {
        var topic = Unique.Topic("v5-nolocal");
        await using var client = await ConnectAsync();
        await SubscribeAsync(client, b => b.WithTopicFilter(f => f.WithTopic(topic).WithQualityOfServiceLevel(AtLeastOnce).WithNoLocal()));
        await using var other = await ConnectAsync();

        await client.PublishAsync(topic, "own", AtLeastOnce);
        await other.PublishAsync(topic, "other", AtLeastOnce);

        // "other" was published after "own" had been acknowledged, so "own" would have arrived first [MQTT-3.8.3-3].
        await client.WaitForMessagesAsync(1);
        await client.PingAsync();
        Assert.Equal(["other"], client.Messages.Select(m => m.Payload));
    }

    [Fact]
    public async Task RetainAsPublished_KeepsOrClearsTheRetainFlagOnForwardedMessages()
    {
        var topic = Unique.Topic("v5-rap");
        await using var keeps = await ConnectAsync();
        await SubscribeAsync(keeps, b => b.WithTopicFilter(f => f.WithTopic(topic).WithQualityOfServiceLevel(AtLeastOnce).WithRetainAsPublished()));
        await using var clears = await ConnectAsync();
        await SubscribeAsync(clears, b => b.WithTopicFilter(f => f.WithTopic(topic).WithQualityOfServiceLevel(AtLeastOnce).WithRetainAsPublished(false)));
        await using var publisher = await ConnectAsync();

        await publisher.PublishAsync(topic, "retained", AtLeastOnce, retain: true);

        Assert.True(Assert.Single(await keeps.WaitForMessagesAsync(1)).Retain); // [MQTT-3.3.1-13]
        Assert.False(Assert.Single(await clears.WaitForMessagesAsync(1)).Retain); // [MQTT-3.3.1-12]
        await publisher.PublishAsync(topic, "", AtLeastOnce, retain: true);
    }

    [Fact]
    public async Task RetainHandling_SendsRetainedMessagesAsEachSettingSays()
    {
        var topic = Unique.Topic("v5-rh");
        await using var publisher = await ConnectAsync();
        await publisher.PublishAsync(topic, "retained", AtLeastOnce, retain: true);

        async Task<IReadOnlyList<ReceivedMessage>> SubscribeThenMarkAsync(MqttNetClient client, MqttRetainHandling handling)
        {
            var before = client.Messages.Count;
            await SubscribeAsync(client, b => b.WithTopicFilter(f => f.WithTopic(topic).WithQualityOfServiceLevel(AtLeastOnce).WithRetainHandling(handling)));
            // A non-retained marker after the SUBACK: any retained message the subscribe caused comes before it.
            await publisher.PublishAsync(topic, "marker", AtLeastOnce);
            Assert.True(await Poll.UntilAsync(() => client.Messages.Skip(before).Any(m => m.Payload == "marker"), MqttNetClient.Timeout),
                $"The marker never arrived; got {string.Join("; ", client.Messages)}");
            return [.. client.Messages.Skip(before)];
        }

        await using var sendAlways = await ConnectAsync();
        await using var sendIfNew = await ConnectAsync();
        await using var never = await ConnectAsync();

        // [MQTT-3.3.1-9] 0: on every subscribe, including a repeated one.
        Assert.Equal(["retained", "marker"], (await SubscribeThenMarkAsync(sendAlways, MqttRetainHandling.SendAtSubscribe)).Select(m => m.Payload));
        Assert.Equal(["retained", "marker"], (await SubscribeThenMarkAsync(sendAlways, MqttRetainHandling.SendAtSubscribe)).Select(m => m.Payload));
        // [MQTT-3.3.1-10] 1: only when the subscription is new.
        Assert.Equal(["retained", "marker"], (await SubscribeThenMarkAsync(sendIfNew, MqttRetainHandling.SendAtSubscribeIfNewSubscriptionOnly)).Select(m => m.Payload));
        Assert.Equal(["marker"], (await SubscribeThenMarkAsync(sendIfNew, MqttRetainHandling.SendAtSubscribeIfNewSubscriptionOnly)).Select(m => m.Payload));
        // [MQTT-3.3.1-11] 2: never.
        Assert.Equal(["marker"], (await SubscribeThenMarkAsync(never, MqttRetainHandling.DoNotSendOnSubscribe)).Select(m => m.Payload));

        await publisher.PublishAsync(topic, "", AtLeastOnce, retain: true);
    }

    [Fact]
    public async Task SubscriptionIdentifiers_OverlappingSubscriptions_OneMessageCarriesBoth()
    {
        var root = Unique.Topic("v5-subid");
        await using var subscriber = await ConnectAsync();
        Assert.True(subscriber.ConnectResult!.SubscriptionIdentifiersAvailable);
        await SubscribeAsync(subscriber, b => b.WithTopicFilter($"{root}/+", AtLeastOnce).WithSubscriptionIdentifier(11));
        await SubscribeAsync(subscriber, b => b.WithTopicFilter($"{root}/a", AtLeastOnce).WithSubscriptionIdentifier(22));
        await using var publisher = await ConnectAsync();

        await publisher.PublishAsync($"{root}/a", "both", AtLeastOnce);
        await publisher.PublishAsync($"{root}/b", "wildcard only", AtLeastOnce);

        await subscriber.WaitForMessagesAsync(2);
        await subscriber.PingAsync();
        var messages = subscriber.ApplicationMessages;
        Assert.Equal(2, messages.Count);
        // One copy for the overlapping subscriptions, with both identifiers [MQTT-3.3.4-3] [MQTT-3.3.4-4].
        Assert.Equal("both", messages[0].ConvertPayloadToString());
        Assert.Equal([11u, 22u], messages[0].SubscriptionIdentifiers.Order());
        Assert.Equal([11u], messages[1].SubscriptionIdentifiers);
    }

    // ---------------------------------------------------------------- shared subscriptions

    [Fact]
    public async Task SharedSubscription_TwoMembersSplitTheMessages()
    {
        var topic = Unique.Topic("v5-shared");
        var group = $"g{Guid.NewGuid():N}";
        await using var first = await ConnectAsync();
        await using var second = await ConnectAsync();
        Assert.True(first.ConnectResult!.SharedSubscriptionAvailable);
        await first.SubscribeAsync($"$share/{group}/{topic}", AtLeastOnce);
        await second.SubscribeAsync($"$share/{group}/{topic}", AtLeastOnce);
        await using var publisher = await ConnectAsync();

        const int count = 10;
        for (var i = 0; i < count; i++)
            await publisher.PublishAsync(topic, $"m{i}", AtLeastOnce);

        Assert.True(await Poll.UntilAsync(() => first.Messages.Count + second.Messages.Count >= count, MqttNetClient.Timeout),
            $"first got {first.Messages.Count}, second {second.Messages.Count}");
        await first.PingAsync();
        await second.PingAsync();
        var all = first.Messages.Concat(second.Messages).Select(m => m.Payload).Order().ToList();
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"m{i}").Order(), all);
        Assert.NotEmpty(first.Messages);
        Assert.NotEmpty(second.Messages);
    }

    // ---------------------------------------------------------------- flow control

    [Fact]
    public async Task ReceiveMaximum_OfTheClient_LimitsUnacknowledgedMessages()
    {
        var topic = Unique.Topic("v5-receive-max");
        await using var subscriber = await ConnectAsync(configure: o => o.WithReceiveMaximum(2));
        subscriber.HoldAcknowledgements = true;
        await subscriber.SubscribeAsync(topic, AtLeastOnce);
        await using var publisher = await ConnectAsync();

        for (var i = 1; i <= 5; i++)
            await publisher.PublishAsync(topic, $"m{i}", AtLeastOnce);

        // [MQTT-3.3.4-9] two in flight, then one more per PUBACK. The PINGRESP is answered at once even
        // with the window full [MQTT-3.3.4-10], and it follows anything already sent.
        for (var acknowledged = 0; acknowledged <= 3; acknowledged++)
        {
            await subscriber.WaitForMessagesAsync(acknowledged + 2);
            await subscriber.PingAsync();
            Assert.Equal(acknowledged + 2, subscriber.InboundPublishPackets);
            await subscriber.AcknowledgeOldestAsync();
        }
        await subscriber.WaitForMessagesAsync(5);
        Assert.Equal(["m1", "m2", "m3", "m4", "m5"], subscriber.Messages.Select(m => m.Payload));
        await subscriber.AcknowledgeOldestAsync();
    }

    [Fact]
    public async Task MaximumPacketSize_OfTheClient_OversizeMessageIsNotDelivered_SmallOneIs()
    {
        var topic = Unique.Topic("v5-max-packet");
        await using var subscriber = await ConnectAsync(configure: o => o.WithMaximumPacketSize(256));
        await subscriber.SubscribeAsync(topic, AtLeastOnce);
        await using var publisher = await ConnectAsync();

        await publisher.PublishAsync(topic, new string('x', 1000), AtLeastOnce);
        await publisher.PublishAsync(topic, "small", AtLeastOnce);

        // [MQTT-3.1.2-24] [MQTT-3.1.2-25] the large one is discarded, not truncated, and the small one follows.
        await subscriber.WaitForMessagesAsync(1);
        await subscriber.PingAsync();
        Assert.Equal(1, subscriber.InboundPublishPackets);
        Assert.Equal(["small"], subscriber.Messages.Select(m => m.Payload));
        Assert.True(subscriber.Client.IsConnected);
    }

    // ---------------------------------------------------------------- will delay

    private static void DelayedWill(MqttClientOptionsBuilder options, string willTopic, uint delaySeconds) => options
        .WithCleanStart(false).WithSessionExpiryInterval(60)
        .WithWillTopic(willTopic).WithWillPayload("gone").WithWillQualityOfServiceLevel(AtLeastOnce)
        .WithWillDelayInterval(delaySeconds);

    [Fact]
    public async Task WillDelay_Elapsed_PublishesTheWill()
    {
        var willTopic = Unique.Topic("v5-will-delay");
        await using var watcher = await ConnectAsync();
        await watcher.SubscribeAsync(willTopic, AtLeastOnce);
        var clientId = Unique.ClientId("v5-will");
        await using var client = await ConnectAsync(clientId, o => DelayedWill(o, willTopic, 2));

        var dropped = Stopwatch.StartNew();
        client.Drop();

        Assert.Equal("gone", Assert.Single(await watcher.WaitForMessagesAsync(1)).Payload);
        Assert.True(dropped.Elapsed >= TimeSpan.FromSeconds(1.8), $"The will came after {dropped.Elapsed.TotalSeconds:0.00} s, before its 2 s delay.");

        await using var cleanup = await ConnectAsync(clientId, o => o.WithCleanStart(true));
        await EndSessionAsync(cleanup);
    }

    [Fact]
    public async Task WillDelay_ReconnectWithinTheDelay_CancelsTheWill()
    {
        var willTopic = Unique.Topic("v5-will-cancel");
        await using var watcher = await ConnectAsync();
        await watcher.SubscribeAsync(willTopic, AtLeastOnce);
        var clientId = Unique.ClientId("v5-will");
        await using (var client = await ConnectAsync(clientId, o => DelayedWill(o, willTopic, 2)))
            client.Drop();
        var dropped = Stopwatch.StartNew();

        await using var again = await ConnectAsync(clientId, o => o.WithCleanStart(false).WithSessionExpiryInterval(60));
        Assert.True(again.ConnectResult!.IsSessionPresent);

        // Nothing announces that a will was cancelled: wait out the delay and the housekeeping tick, then
        // send a marker that would come after the will [MQTT-3.1.3-9].
        var left = TimeSpan.FromSeconds(4) - dropped.Elapsed;
        if (left > TimeSpan.Zero)
            await Task.Delay(left);
        await again.PublishAsync(willTopic, "marker", AtLeastOnce);
        await watcher.WaitForMessagesAsync(1);
        Assert.Equal(["marker"], watcher.Messages.Select(m => m.Payload));
        await EndSessionAsync(again);
    }

    // ---------------------------------------------------------------- request/response and properties

    [Fact]
    public async Task RequestResponse_ResponseTopicAndCorrelationData_RoundTrip_WithResponseInformation()
    {
        var requesterId = Unique.ClientId("v5-requester");
        await using var requester = await ConnectAsync(requesterId, o => o.WithRequestResponseInformation(true));
        var responseInformation = requester.ConnectResult!.ResponseInformation;
        Assert.False(string.IsNullOrEmpty(responseInformation));
        Assert.StartsWith(KirisameV5Fixture.ResponseInformationPrefix, responseInformation, StringComparison.Ordinal);

        var requestTopic = Unique.Topic("v5-request");
        var responseTopic = $"{responseInformation}/reply";
        await requester.SubscribeAsync(responseTopic, AtLeastOnce);
        await using var responder = await ConnectAsync();
        await responder.SubscribeAsync(requestTopic, AtLeastOnce);
        var correlation = new byte[] { 0x00, 0xFF, 0x10, 0x80 };

        Assert.True((await PublishAsync(requester, new MqttApplicationMessageBuilder().WithTopic(requestTopic).WithPayload("ping?")
            .WithQualityOfServiceLevel(AtLeastOnce).WithResponseTopic(responseTopic).WithCorrelationData(correlation).Build())).IsSuccess);

        await responder.WaitForMessagesAsync(1);
        var request = Assert.Single(responder.ApplicationMessages);
        Assert.Equal(responseTopic, request.ResponseTopic); // [MQTT-3.3.2-15]
        Assert.Equal(correlation, request.CorrelationData); // [MQTT-3.3.2-16]
        Assert.True((await PublishAsync(responder, new MqttApplicationMessageBuilder().WithTopic(request.ResponseTopic).WithPayload("pong!")
            .WithQualityOfServiceLevel(AtLeastOnce).WithCorrelationData(request.CorrelationData).Build())).IsSuccess);

        await requester.WaitForMessagesAsync(1);
        var response = Assert.Single(requester.ApplicationMessages);
        Assert.Equal((responseTopic, "pong!"), (response.Topic, response.ConvertPayloadToString()));
        Assert.Equal(correlation, response.CorrelationData);
    }

    [Fact]
    public async Task ResponseInformation_NotSentUnlessRequested()
    {
        await using var client = await ConnectAsync(); // [MQTT-3.1.2-28]
        Assert.True(string.IsNullOrEmpty(client.ConnectResult!.ResponseInformation));
    }

    [Fact]
    public async Task UserPropertiesContentTypeAndPayloadFormat_PassThroughUnchanged()
    {
        var topic = Unique.Topic("v5-properties");
        await using var subscriber = await ConnectAsync();
        await subscriber.SubscribeAsync(topic, AtLeastOnce);
        await using var publisher = await ConnectAsync();
        (string Name, string Value)[] properties = [("z-first", "1"), ("a-second", "two"), ("z-first", "3"), ("ключ", "значение")];
        var builder = new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload("{\"t\":21.5}")
            .WithQualityOfServiceLevel(AtLeastOnce).WithContentType("application/json; charset=utf-8")
            .WithPayloadFormatIndicator(MqttPayloadFormatIndicator.CharacterData);
        foreach (var (name, value) in properties)
            builder.WithUserProperty(name, new ReadOnlyMemory<byte>(Encoding.UTF8.GetBytes(value)));

        Assert.True((await PublishAsync(publisher, builder.Build())).IsSuccess);

        await subscriber.WaitForMessagesAsync(1);
        var message = Assert.Single(subscriber.ApplicationMessages);
        Assert.Equal("{\"t\":21.5}", message.ConvertPayloadToString());
        // [MQTT-3.3.2-17] [MQTT-3.3.2-18] all of them, in order, repeated names included.
        Assert.Equal(properties, message.UserProperties.Select(p => (p.Name, p.ReadValueAsString())));
        Assert.Equal("application/json; charset=utf-8", message.ContentType); // [MQTT-3.3.2-20]
        Assert.Equal(MqttPayloadFormatIndicator.CharacterData, message.PayloadFormatIndicator); // [MQTT-3.3.2-4]
    }

    [Fact]
    public async Task PayloadFormatIndicator_InvalidUtf8_IsRefusedWith0x99_AndAReasonString()
    {
        var topic = Unique.Topic("v5-bad-utf8");
        await using var subscriber = await ConnectAsync();
        await subscriber.SubscribeAsync(topic, AtLeastOnce);
        await using var publisher = await ConnectAsync();

        var result = await PublishAsync(publisher, new MqttApplicationMessageBuilder().WithTopic(topic)
            .WithPayload(new byte[] { 0x68, 0xC3, 0x28, 0xFF }).WithQualityOfServiceLevel(AtLeastOnce)
            .WithPayloadFormatIndicator(MqttPayloadFormatIndicator.CharacterData).Build());

        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, result.ReasonCode);
        Assert.False(string.IsNullOrEmpty(result.ReasonString), "An error PUBACK should explain itself in a Reason String.");
        // Refused means not forwarded; the connection stays up.
        await publisher.PublishAsync(topic, "valid", AtLeastOnce);
        await subscriber.WaitForMessagesAsync(1);
        Assert.Equal(["valid"], subscriber.Messages.Select(m => m.Payload));
    }

    [Fact]
    public async Task UnsupportedAuthenticationMethod_IsRefusedWith0x8C_AndAReasonString()
    {
        await using var client = await MqttNetClient.TryConnectAsync(Port, MqttProtocolVersion.V500, configure: o => o
            .WithEnhancedAuthentication("NO-SUCH-METHOD", [1, 2, 3])
            .WithEnhancedAuthenticationHandler(new ScramAuthenticationHandler("nobody", "x")));

        // [MQTT-4.12.0-1]
        Assert.Equal(MqttClientConnectResultCode.BadAuthenticationMethod, client.ConnectResult!.ResultCode);
        Assert.False(string.IsNullOrEmpty(client.ConnectResult.ReasonString));
        Assert.False(client.Client.IsConnected);
    }

    // ---------------------------------------------------------------- enhanced authentication

    [Fact]
    public async Task Scram_RightPassword_Connects_ServerProvesItsKey_AndReauthenticates()
    {
        var scram = new ScramAuthenticationHandler(KirisameV5Fixture.ScramUser, KirisameV5Fixture.ScramPassword);
        await using var client = await ConnectAsync(configure: o => o
            .WithEnhancedAuthentication(ScramAuthenticationHandler.Method, scram.ClientFirst())
            .WithEnhancedAuthenticationHandler(scram));

        // [MQTT-4.12.0-5] the CONNACK names the method; its data is the server-final message.
        Assert.Equal(ScramAuthenticationHandler.Method, client.ConnectResult!.AuthenticationMethod);
        Assert.True(scram.IsServerSignatureValid(client.ConnectResult.AuthenticationData), "The server signature in CONNACK is wrong.");

        // Re-authentication on the same connection: AUTH 0x19, 0x18 both ways, then 0x00 with a new server proof.
        using var cts = new CancellationTokenSource(MqttNetClient.Timeout);
        await client.Client.SendEnhancedAuthenticationExchangeDataAsync(new MqttEnhancedAuthenticationExchangeData
        {
            ReasonCode = MqttAuthenticateReasonCode.ReAuthenticate,
            AuthenticationData = scram.ClientFirst(),
        }, cts.Token);
        var serverFinal = await Poll.WithTimeout(scram.ReauthenticationCompleted, MqttNetClient.Timeout, "AUTH 0x00 ending re-authentication");
        Assert.True(scram.IsServerSignatureValid(serverFinal), "The server signature in AUTH 0x00 is wrong.");

        await client.PingAsync();
        Assert.True(client.Client.IsConnected);
    }

    [Fact]
    public async Task Scram_WrongPassword_IsRefusedWith0x86()
    {
        var scram = new ScramAuthenticationHandler(KirisameV5Fixture.ScramUser, "not the password");
        await using var client = await MqttNetClient.TryConnectAsync(Port, MqttProtocolVersion.V500, configure: o => o
            .WithEnhancedAuthentication(ScramAuthenticationHandler.Method, scram.ClientFirst())
            .WithEnhancedAuthenticationHandler(scram));

        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, client.ConnectResult!.ResultCode);
        Assert.False(client.Client.IsConnected);
    }

    [Fact]
    public async Task Scram_UnknownUser_IsRefusedWith0x86()
    {
        var scram = new ScramAuthenticationHandler("mallory", KirisameV5Fixture.ScramPassword);
        await using var client = await MqttNetClient.TryConnectAsync(Port, MqttProtocolVersion.V500, configure: o => o
            .WithEnhancedAuthentication(ScramAuthenticationHandler.Method, scram.ClientFirst())
            .WithEnhancedAuthenticationHandler(scram));

        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, client.ConnectResult!.ResultCode);
    }

    // ---------------------------------------------------------------- configuration seen in CONNACK

    [Fact]
    public async Task ConnAck_ReflectsNonDefaultBrokerConfiguration()
    {
        await using var server = await KirisameProcess.StartAsync(
        [
            "--Broker:SysInterval", "0",
            "--Broker:MaximumQoS", "1",
            "--Broker:RetainAvailable", "false",
            "--Broker:WildcardSubscriptionAvailable", "false",
            "--Broker:SubscriptionIdentifiersAvailable", "false",
            "--Broker:SharedSubscriptionAvailable", "false",
            "--Broker:MaximumPacketSize", "4096",
            "--Broker:TopicAliasMaximum", "7",
            "--Broker:ServerKeepAlive", "5",
            "--Broker:ReceiveMaximum", "12",
        ]);
        await using var client = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500,
            configure: o => o.WithKeepAlivePeriod(TimeSpan.FromSeconds(60)));
        var connack = client.ConnectResult!;

        Assert.Equal(MqttQualityOfServiceLevel.AtLeastOnce, connack.MaximumQoS);
        Assert.False(connack.RetainAvailable);
        Assert.False(connack.WildcardSubscriptionAvailable);
        Assert.False(connack.SubscriptionIdentifiersAvailable);
        Assert.False(connack.SharedSubscriptionAvailable);
        Assert.Equal(4096u, connack.MaximumPacketSize);
        Assert.Equal((ushort)7, connack.TopicAliasMaximum);
        Assert.Equal((ushort)5, connack.ServerKeepAlive);
        Assert.Equal((ushort)12, connack.ReceiveMaximum);
    }

    [Theory]
    [InlineData("UseAnotherServer", MqttClientConnectResultCode.UseAnotherServer)]
    [InlineData("ServerMoved", MqttClientConnectResultCode.ServerMoved)]
    public async Task ServerRedirection_RefusesWithTheServerReference(string mode, MqttClientConnectResultCode expected)
    {
        await using var server = await KirisameProcess.StartAsync(
            ["--Broker:SysInterval", "0", "--Broker:ServerReference", "other.example:1883", "--Broker:RedirectReason", mode]);

        await using var client = await MqttNetClient.TryConnectAsync(server.Port, MqttProtocolVersion.V500);

        Assert.Equal(expected, client.ConnectResult!.ResultCode);
        Assert.Equal("other.example:1883", client.ConnectResult.ServerReference);
        Assert.False(client.Client.IsConnected);
    }

    // Broker:QueueOverflowAction Disconnect against the real process: a subscriber that never acknowledges fills
    // its window (1) and queue (2); one more message and it is disconnected with 0x97 Quota exceeded (v5), or its
    // connection is simply closed (3.1.1).
    [Theory]
    [InlineData(MqttProtocolVersion.V500)]
    [InlineData(MqttProtocolVersion.V311)]
    public async Task QueueOverflow_WithDisconnectAction_ClosesTheSlowSubscriber(MqttProtocolVersion version)
    {
        await using var server = await KirisameProcess.StartAsync(["--Broker:MaxInflightMessages", "1", "--Broker:MaxQueuedMessages", "2",
            "--Broker:QueueOverflowAction", "Disconnect"]);
        var topic = Unique.Topic("queue-overflow");
        await using var subscriber = await MqttNetClient.ConnectAsync(server.Port, version);
        subscriber.HoldAcknowledgements = true;
        await subscriber.SubscribeAsync(topic, AtLeastOnce);
        await using var publisher = await MqttNetClient.ConnectAsync(server.Port, MqttProtocolVersion.V500);

        for (var i = 0; i < 4; i++)
            await publisher.PublishAsync(topic, $"m{i}", AtLeastOnce);

        var disconnected = await Poll.WithTimeout(subscriber.Disconnected, MqttNetClient.Timeout, "the slow subscriber to be disconnected");
        if (version == MqttProtocolVersion.V500)
            Assert.Equal(MqttClientDisconnectReason.QuotaExceeded, disconnected.Reason);
        Assert.True(publisher.Client.IsConnected);
    }
}
