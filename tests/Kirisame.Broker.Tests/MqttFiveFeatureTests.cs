using System.Text;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Kirisame.Protocol.Properties;
using Microsoft.Extensions.Time.Testing;

namespace Kirisame.Broker.Tests;

/// MQTT 5.0 features beyond the basics, each driven over the in-memory transport.
public sealed class MqttFiveFeatureTests
{
    private const ProtocolVersion V5 = ProtocolVersion.V500;

    private static MqttBroker NewBroker(BrokerOptions? options = null, TimeProvider? time = null)
        => new(options ?? new BrokerOptions { SysInterval = 0 }, timeProvider: time);

    // [MQTT-3.1.2-26], [MQTT-3.3.2-11] aliases within the client's Topic Alias Maximum.
    [Fact]
    public async Task TopicAlias_ServerToClient_SendsTopicOnceThenAliasAlone()
    {
        await using var broker = NewBroker();
        await using var sub = new TestClient(broker, V5);
        await sub.ConnectAsync("sub", properties: new MqttProperties { TopicAliasMaximum = 4 });
        await sub.SubscribeAsync("t/#");
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");

        await pub.PublishAsync("t/one", "1");
        var first = await sub.ExpectPublishAsync();
        Assert.Equal("t/one", first.TopicString);
        Assert.InRange(first.Properties.TopicAlias, 1, 4);

        await pub.PublishAsync("t/one", "2");
        var second = await sub.ExpectPublishAsync();
        Assert.True(second.Topic.IsEmpty);
        Assert.Equal(first.Properties.TopicAlias, second.Properties.TopicAlias);
    }

    [Fact]
    public async Task TopicAlias_NotUsedTowardsClientThatAllowsNone()
    {
        await using var broker = NewBroker();
        await using var sub = new TestClient(broker, V5);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("t/#");
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        await pub.PublishAsync("t/one", "1");
        await pub.PublishAsync("t/one", "2");
        for (var i = 0; i < 2; i++)
        {
            var p = await sub.ExpectPublishAsync();
            Assert.Equal("t/one", p.TopicString);
            Assert.Equal(0, p.Properties.TopicAlias); // [MQTT-3.1.2-27]
        }
    }

    [Fact]
    public async Task TopicAlias_ClientToServer_ResolvesEmptyTopic() // [MQTT-3.3.2-12]
    {
        await using var broker = NewBroker();
        await using var sub = new TestClient(broker, V5);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("alias/#");
        await using var pub = new TestClient(broker, V5);
        var connAck = await pub.ConnectAsync("pub");
        Assert.True(connAck.Properties?.TopicAliasMaximum > 0);

        await pub.PublishAsync("alias/x", "set", properties: new PublishProperties { TopicAlias = 3 });
        await pub.PublishAsync("", "use", properties: new PublishProperties { TopicAlias = 3 });
        Assert.Equal("alias/x", (await sub.ExpectPublishAsync()).TopicString);
        var used = await sub.ExpectPublishAsync();
        Assert.Equal("alias/x", used.TopicString);
        Assert.Equal("use", Text.Of(used.Payload));
    }

    [Fact]
    public async Task TopicAlias_AboveMaximum_IsDisconnectedWith0x94()
    {
        await using var broker = NewBroker(new BrokerOptions { SysInterval = 0, TopicAliasMaximum = 2 });
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        await pub.PublishAsync("a", "x", properties: new PublishProperties { TopicAlias = 3 });
        var disconnect = await pub.ExpectAsync<DisconnectPacket>();
        Assert.Equal(ReasonCode.TopicAliasInvalid, disconnect.ReasonCode); // the client broke 3.3.2-9: [MQTT-4.13.1-1]
        await pub.ExpectClosedAsync();
    }

    [Fact]
    public async Task SubscriptionIdentifiers_OverlappingSubscriptions_OnePublishCarriesAll() // [MQTT-3.3.4-3], [MQTT-3.3.4-4]
    {
        await using var broker = NewBroker();
        await using var sub = new TestClient(broker, V5);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("s/+", properties: new MqttProperties { SubscriptionIdentifiers = [7] });
        await sub.SubscribeAsync("s/#", properties: new MqttProperties { SubscriptionIdentifiers = [9] });
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        await pub.PublishAsync("s/x", "both");
        var p = await sub.ExpectPublishAsync();
        var ids = p.Properties.ToMqttProperties().SubscriptionIdentifiers;
        Assert.NotNull(ids);
        Assert.Equal([7u, 9u], ids.Order());
        await sub.ExpectNothingAsync();
    }

    [Fact]
    public async Task NoLocal_OwnPublishIsNotReceived_OthersAre()
    {
        await using var broker = NewBroker();
        await using var me = new TestClient(broker, V5);
        await me.ConnectAsync("me");
        await me.SubscribeAsync("chat", noLocal: true);
        await using var other = new TestClient(broker, V5);
        await other.ConnectAsync("other");
        await me.PublishAsync("chat", "mine");
        await other.PublishAsync("chat", "theirs");
        var p = await me.ExpectPublishAsync();
        Assert.Equal("theirs", Text.Of(p.Payload)); // [MQTT-3.8.3-3]
    }

    [Fact]
    public async Task SharedSubscription_EachMessageGoesToOneMember()
    {
        await using var broker = NewBroker();
        await using var a = new TestClient(broker, V5);
        await a.ConnectAsync("a");
        await a.SubscribeAsync("$share/g/work/#");
        await using var b = new TestClient(broker, V5);
        await b.ConnectAsync("b");
        await b.SubscribeAsync("$share/g/work/#");
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        for (var i = 0; i < 10; i++)
            await pub.PublishAsync("work/x", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await pub.ExpectNothingAsync(); // all ten routed
        var received = new List<string>();
        foreach (var client in new[] { a, b })
        {
            while (true)
            {
                await client.SendRawAsync([0xC0, 0x00]);
                var packet = await client.ReceiveAsync();
                if (packet is PingRespPacket)
                    break;
                received.Add(Text.Of(Assert.IsType<PublishMessagePacket>(packet).Publish.Payload));
            }
        }

        Assert.Equal(10, received.Count);
        Assert.Equal(10, received.Distinct().Count());
    }

    [Fact]
    public async Task SharedSubscription_UnackedMessageOfDepartedMember_GoesToAnother()
    {
        await using var broker = NewBroker();
        var a = new TestClient(broker, V5);
        await a.ConnectAsync("a");
        await a.SubscribeAsync("$share/g/jobs", QualityOfService.AtLeastOnce);
        await using var b = new TestClient(broker, V5);
        await b.ConnectAsync("b");
        await b.SubscribeAsync("$share/g/jobs", QualityOfService.AtLeastOnce);
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        await pub.PublishAsync("jobs", "job-1", QualityOfService.AtLeastOnce);
        await pub.ExpectAsync<PublishAckPacket>();

        // Whoever got it leaves without acknowledging; the other must receive it.
        var gotA = await TryReceivePublish(a);
        var (leaver, stayer) = gotA is not null ? (a, b) : (b, a);
        if (gotA is null)
            Assert.NotNull(await TryReceivePublish(b));
        await leaver.DropAsync();
        await leaver.ServerTask;
        var redelivered = await stayer.ExpectPublishAsync();
        Assert.Equal("job-1", Text.Of(redelivered.Payload));
        await a.DisposeAsync();
    }

    private static async Task<PublishPacket?> TryReceivePublish(TestClient client)
    {
        await client.SendRawAsync([0xC0, 0x00]);
        var packet = await client.ReceiveAsync();
        if (packet is PingRespPacket)
            return null;
        var publish = Assert.IsType<PublishMessagePacket>(packet).Publish;
        Assert.IsType<PingRespPacket>(await client.ReceiveAsync());
        return publish;
    }

    [Fact]
    public async Task SharedSubscription_DoesNotReceiveRetainedMessages()
    {
        await using var broker = NewBroker();
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        await pub.PublishAsync("r", "kept", QualityOfService.AtLeastOnce, retain: true);
        await pub.ExpectAsync<PublishAckPacket>();
        await using var sub = new TestClient(broker, V5);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("$share/g/r");
        await sub.ExpectNothingAsync(); // retained messages are not sent to shared subscriptions (section 4.8.2)
    }

    [Fact]
    public async Task MessageExpiry_ExpiredQueuedMessage_IsNeverDelivered_AndRemainingIsReduced() // [MQTT-3.3.2-5]
    {
        var time = new FakeTimeProvider();
        await using var broker = NewBroker(time: time);
        var sub = new TestClient(broker, V5);
        await sub.ConnectAsync("sub", cleanStart: true, properties: new MqttProperties { SessionExpiryInterval = 3600 });
        await sub.SubscribeAsync("e/#", QualityOfService.AtLeastOnce);
        await sub.DisconnectAsync();
        await sub.DisposeAsync();

        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        await pub.PublishAsync("e/short", "gone", QualityOfService.AtLeastOnce, properties: new PublishProperties { MessageExpiryInterval = 5 });
        await pub.ExpectAsync<PublishAckPacket>();
        await pub.PublishAsync("e/long", "kept", QualityOfService.AtLeastOnce, properties: new PublishProperties { MessageExpiryInterval = 100 });
        await pub.ExpectAsync<PublishAckPacket>();
        time.Advance(TimeSpan.FromSeconds(10));

        await using var back = new TestClient(broker, V5);
        await back.ConnectAsync("sub", cleanStart: false, properties: new MqttProperties { SessionExpiryInterval = 3600 });
        var p = await back.ExpectPublishAsync();
        Assert.Equal("kept", Text.Of(p.Payload));
        Assert.Equal(90u, p.Properties.MessageExpiryInterval); // [MQTT-3.3.2-6]
        await back.SendAsync(new PublishAckPacket(PacketType.PubAck, p.PacketId));
        await back.ExpectNothingAsync();
    }

    [Fact]
    public async Task WillDelay_ReconnectInTime_CancelsWill()
    {
        var time = new FakeTimeProvider();
        await using var broker = NewBroker(time: time);
        broker.Start();
        await using var watcher = new TestClient(broker, V5);
        await watcher.ConnectAsync("watcher", keepAlive: 0);
        await watcher.SubscribeAsync("will/#");
        var will = new WillMessage { Topic = "will/x", Payload = "dead"u8.ToArray(), Properties = new MqttProperties { WillDelayInterval = 30 } };
        var props = new MqttProperties { SessionExpiryInterval = 300 };
        var first = new TestClient(broker, V5);
        await first.ConnectAsync("dying", cleanStart: false, will: will, properties: props);
        await first.DropAsync();
        await first.ServerTask;
        time.Advance(TimeSpan.FromSeconds(10));
        await using var again = new TestClient(broker, V5);
        await again.ConnectAsync("dying", cleanStart: false, properties: props);
        time.Advance(TimeSpan.FromSeconds(60));
        await watcher.ExpectNothingAsync(); // [MQTT-3.1.3-9]
        await first.DisposeAsync();
    }

    [Fact]
    public async Task WillDelay_Elapsed_PublishesWill() // [MQTT-3.1.2-8]
    {
        var time = new FakeTimeProvider();
        await using var broker = NewBroker(time: time);
        broker.Start();
        await using var watcher = new TestClient(broker, V5);
        await watcher.ConnectAsync("watcher");
        await watcher.SubscribeAsync("will/#");
        var will = new WillMessage { Topic = "will/x", Payload = "dead"u8.ToArray(), Properties = new MqttProperties { WillDelayInterval = 30 } };
        var first = new TestClient(broker, V5);
        await first.ConnectAsync("dying", will: will, properties: new MqttProperties { SessionExpiryInterval = 300 });
        await first.DropAsync();
        await first.ServerTask;
        time.Advance(TimeSpan.FromSeconds(20));
        await watcher.ExpectNothingAsync();
        time.Advance(TimeSpan.FromSeconds(15));
        var p = await watcher.ExpectPublishAsync();
        Assert.Equal("dead", Text.Of(p.Payload));
        await first.DisposeAsync();
    }

    [Fact]
    public async Task WillDelay_SessionEndsFirst_PublishesWillAtSessionEnd() // [MQTT-3.1.2-8]
    {
        var time = new FakeTimeProvider();
        await using var broker = NewBroker(time: time);
        broker.Start();
        await using var watcher = new TestClient(broker, V5);
        await watcher.ConnectAsync("watcher");
        await watcher.SubscribeAsync("will/#");
        var will = new WillMessage { Topic = "will/x", Payload = "dead"u8.ToArray(), Properties = new MqttProperties { WillDelayInterval = 600 } };
        var first = new TestClient(broker, V5);
        await first.ConnectAsync("dying", will: will, properties: new MqttProperties { SessionExpiryInterval = 5 });
        await first.DropAsync();
        await first.ServerTask;
        time.Advance(TimeSpan.FromSeconds(7));
        Assert.Equal("dead", Text.Of((await watcher.ExpectPublishAsync()).Payload));
        await first.DisposeAsync();
    }

    [Fact]
    public async Task RequestResponseInformation_ReturnsConfiguredPrefix()
    {
        await using var broker = NewBroker(new BrokerOptions { SysInterval = 0, ResponseInformationPrefix = "reply/" });
        await using var c = new TestClient(broker, V5);
        var ack = await c.ConnectAsync("rr", properties: new MqttProperties { RequestResponseInformation = 1 });
        Assert.Equal("reply/rr", ack.Properties?.ResponseInformation);
    }

    // Unaltered: [MQTT-3.3.2-4] Payload Format Indicator, [MQTT-3.3.2-15] Response Topic, [MQTT-3.3.2-16] Correlation
    // Data, [MQTT-3.3.2-17] User Properties, [MQTT-3.3.2-20] Content Type.
    [Fact]
    public async Task RequestResponse_ResponseTopicCorrelationDataUserPropertiesAndContentType_PassThroughInOrder()
    {
        await using var broker = NewBroker();
        await using var sub = new TestClient(broker, V5);
        await sub.ConnectAsync("sub");
        await sub.SubscribeAsync("req");
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        var sent = new MqttProperties
        {
            ResponseTopic = "resp/1",
            CorrelationData = [1, 2, 3],
            ContentType = "text/plain",
            PayloadFormatIndicator = 1,
            UserProperties = [new("b", "2"), new("a", "1"), new("b", "3")],
        };
        await pub.PublishAsync("req", "hi", properties: PublishProperties.From(sent));
        var got = (await sub.ExpectPublishAsync()).Properties.ToMqttProperties();
        Assert.Equal("resp/1", got.ResponseTopic);
        Assert.Equal([1, 2, 3], got.CorrelationData);
        Assert.Equal("text/plain", got.ContentType);
        Assert.Equal((byte)1, got.PayloadFormatIndicator);
        Assert.Equal(sent.UserProperties, got.UserProperties); // order kept [MQTT-3.3.2-18]
    }

    [Fact]
    public async Task PayloadFormatIndicator_InvalidUtf8_IsRefusedWith0x99()
    {
        await using var broker = NewBroker();
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        await pub.SendAsync(new PublishMessagePacket(new PublishPacket
        {
            Topic = "t"u8.ToArray(),
            Payload = new byte[] { 0xC3, 0x28 },
            QoS = QualityOfService.AtLeastOnce,
            PacketId = 1,
            Properties = new PublishProperties { PayloadFormatIndicator = 1 },
        }));
        var ack = await pub.ExpectAsync<PublishAckPacket>();
        Assert.Equal(ReasonCode.PayloadFormatInvalid, ack.ReasonCode);
        Assert.NotNull(ack.Properties?.ReasonString);
    }

    [Fact]
    public async Task RequestProblemInformationZero_SuppressesReasonStringOnAcks()
    {
        await using var broker = NewBroker();
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub", properties: new MqttProperties { RequestProblemInformation = 0 });
        await pub.PublishAsync("$SYS/x", "no", QualityOfService.AtLeastOnce);
        var ack = await pub.ExpectAsync<PublishAckPacket>();
        Assert.Equal(ReasonCode.NotAuthorized, ack.ReasonCode);
        Assert.Null(ack.Properties?.ReasonString); // [MQTT-3.1.2-29]
    }

    // Issue 4: a Reason String on every ack with a failure. One SUBACK, one string naming each refused filter.
    [Fact]
    public async Task SubAck_WithRefusedFilters_SaysWhyForEach()
    {
        await using var broker = TestBroker.Create(o =>
        {
            o.MaxSubscriptionsPerClient = 1;
            o.WildcardSubscriptionAvailable = false;
            o.SharedSubscriptionAvailable = false;
            o.MaxTopicLevels = 3;
        }, authorizer: new DenyFilter("secret"));
        await using var client = new TestClient(broker, V5);
        await client.ConnectAsync("c");

        await client.SendAsync(new SubscribePacket
        {
            PacketId = 1,
            Subscriptions = [new("ok", QualityOfService.AtMostOnce), new("secret", QualityOfService.AtMostOnce), new("a/+", QualityOfService.AtMostOnce),
                new("$share/g/t", QualityOfService.AtMostOnce), new("a/b/c/d", QualityOfService.AtMostOnce), new("two", QualityOfService.AtMostOnce)],
        });
        var ack = await client.ExpectAsync<SubAckPacket>();
        Assert.Equal([ReasonCode.GrantedQoS0, ReasonCode.NotAuthorized, ReasonCode.WildcardSubscriptionsNotSupported,
            ReasonCode.SharedSubscriptionsNotSupported, ReasonCode.TopicFilterInvalid, ReasonCode.QuotaExceeded], ack.ReasonCodes);
        Assert.Equal("not authorized to subscribe to secret; wildcard subscriptions are not available: a/+; "
            + "shared subscriptions are not available: $share/g/t; topic filter longer or deeper than this server accepts: a/b/c/d; "
            + "too many subscriptions (at most 1 per client): two", ack.Properties?.ReasonString);

        // All granted: no Reason String.
        Assert.Null((await client.SubscribeAsync("ok")).Properties?.ReasonString);
    }

    [Fact]
    public async Task UnsubAck_ForAFilterNeverSubscribed_SaysSo()
    {
        await using var broker = NewBroker();
        await using var client = new TestClient(broker, V5);
        await client.ConnectAsync("c");
        await client.SubscribeAsync("a");
        var ack = await client.UnsubscribeAsync("a", "never");
        Assert.Equal([ReasonCode.Success, ReasonCode.NoSubscriptionExisted], ack.ReasonCodes);
        Assert.Equal("no subscription existed for never", ack.Properties?.ReasonString);
        await client.SubscribeAsync("b");
        Assert.Null((await client.UnsubscribeAsync("b")).Properties?.ReasonString);
    }

    // [MQTT-3.1.2-29] no Reason String on SUBACK or UNSUBACK when Request Problem Information is 0.
    [Fact]
    public async Task RequestProblemInformationZero_SuppressesReasonStringOnSubAckAndUnsubAck()
    {
        await using var broker = TestBroker.Create(o => o.WildcardSubscriptionAvailable = false);
        await using var client = new TestClient(broker, V5);
        await client.ConnectAsync("c", properties: new MqttProperties { RequestProblemInformation = 0 });
        var subAck = await client.SubscribeAsync("a/#");
        Assert.Equal([ReasonCode.WildcardSubscriptionsNotSupported], subAck.ReasonCodes);
        Assert.Null(subAck.Properties?.ReasonString);
        var unsubAck = await client.UnsubscribeAsync("never");
        Assert.Equal([ReasonCode.NoSubscriptionExisted], unsubAck.ReasonCodes);
        Assert.Null(unsubAck.Properties?.ReasonString);
    }

    [Fact]
    public async Task SubAck_ReasonString_CutsVeryLongFilters()
    {
        await using var broker = TestBroker.Create(o => o.WildcardSubscriptionAvailable = false);
        await using var client = new TestClient(broker, V5);
        await client.ConnectAsync("c");
        var ack = await client.SubscribeAsync(new string('x', 5000) + "/#");
        Assert.Equal("wildcard subscriptions are not available: " + new string('x', 100) + "… (5002 characters)", ack.Properties?.ReasonString);
    }

    private sealed class DenyFilter(string denied) : Kirisame.Broker.Security.IAuthorizer
    {
        public bool CanPublish(string clientId, string? userName, string topic) => true;

        public bool CanSubscribe(string clientId, string? userName, string filter) => filter != denied;
    }

    // [MQTT-3.2.2-9] Maximum QoS sent when below 2; [MQTT-3.2.2-10] a SUBSCRIBE at QoS 2 is accepted (granted 1).
    [Fact]
    public async Task ConnAck_ReflectsConfiguration()
    {
        await using var broker = NewBroker(new BrokerOptions
        {
            SysInterval = 0,
            MaximumQoS = 1,
            RetainAvailable = false,
            WildcardSubscriptionAvailable = false,
            SubscriptionIdentifiersAvailable = false,
            SharedSubscriptionAvailable = false,
            MaximumPacketSize = 4096,
            TopicAliasMaximum = 7,
            ReceiveMaximum = 33,
            ServerKeepAlive = 20,
        });
        await using var c = new TestClient(broker, V5);
        var p = (await c.ConnectAsync("c", keepAlive: 60)).Properties!;
        Assert.Equal((byte)1, p.MaximumQoS);
        Assert.Equal((byte)0, p.RetainAvailable);
        Assert.Equal((byte)0, p.WildcardSubscriptionAvailable);
        Assert.Equal((byte)0, p.SubscriptionIdentifierAvailable);
        Assert.Equal((byte)0, p.SharedSubscriptionAvailable);
        Assert.Equal(4096u, p.MaximumPacketSize);
        Assert.Equal((ushort)7, p.TopicAliasMaximum);
        Assert.Equal((ushort)33, p.ReceiveMaximum);
        Assert.Equal((ushort)20, p.ServerKeepAlive);

        var sub = await c.SubscribeAsync("a/+");
        Assert.Equal([ReasonCode.WildcardSubscriptionsNotSupported], sub.ReasonCodes);
        sub = await c.SubscribeAsync("$share/g/a");
        Assert.Equal([ReasonCode.SharedSubscriptionsNotSupported], sub.ReasonCodes);
        sub = await c.SubscribeAsync("a", QualityOfService.ExactlyOnce);
        Assert.Equal([ReasonCode.GrantedQoS1], sub.ReasonCodes);
        await c.PublishAsync("a", "r", retain: true);
        Assert.Equal(ReasonCode.RetainNotSupported, (await c.ExpectAsync<DisconnectPacket>()).ReasonCode);
    }

    [Fact]
    public async Task SubscriptionIdentifierWhenUnavailable_IsDisconnectedWith0xA1()
    {
        await using var broker = NewBroker(new BrokerOptions { SysInterval = 0, SubscriptionIdentifiersAvailable = false });
        await using var c = new TestClient(broker, V5);
        await c.ConnectAsync("c");
        await c.SendAsync(new SubscribePacket
        {
            PacketId = 1,
            Subscriptions = [new TopicSubscription("a", QualityOfService.AtMostOnce)],
            Properties = new MqttProperties { SubscriptionIdentifiers = [4] },
        });
        Assert.Equal(ReasonCode.SubscriptionIdentifiersNotSupported, (await c.ExpectAsync<DisconnectPacket>()).ReasonCode);
    }

    [Fact]
    public async Task QoSAboveMaximum_IsDisconnectedWith0x9B()
    {
        await using var broker = NewBroker(new BrokerOptions { SysInterval = 0, MaximumQoS = 1 });
        await using var c = new TestClient(broker, V5);
        await c.ConnectAsync("c");
        await c.PublishAsync("a", "x", QualityOfService.ExactlyOnce);
        // The client broke 3.2.2-11 (section 3.2.2.3.4); the server's side: [MQTT-4.13.1-1].
        Assert.Equal(ReasonCode.QoSNotSupported, (await c.ExpectAsync<DisconnectPacket>()).ReasonCode);
        await c.ExpectClosedAsync();
    }

    // [MQTT-3.2.2-6] Session Present 0; [MQTT-3.2.2-7], [MQTT-4.13.2-1] closed after a CONNACK of 0x80 or more.
    [Theory]
    [InlineData(ServerRedirect.UseAnotherServer, ReasonCode.UseAnotherServer)]
    [InlineData(ServerRedirect.ServerMoved, ReasonCode.ServerMoved)]
    public async Task ServerRedirection_RefusesWithServerReference(ServerRedirect mode, ReasonCode expected)
    {
        await using var broker = NewBroker(new BrokerOptions { SysInterval = 0, ServerReference = "other:1883", RedirectReason = mode });
        await using var c = new TestClient(broker, V5);
        var ack = await c.ConnectAsync("c");
        Assert.Equal(expected, ack.ReasonCode);
        Assert.False(ack.SessionPresent);
        Assert.Equal("other:1883", ack.Properties?.ServerReference);
        await c.ExpectClosedAsync();
    }

    [Fact]
    public async Task MaximumPacketSizeOfClient_TooLargeMessageIsDroppedNotTruncated()
    {
        await using var broker = NewBroker();
        await using var sub = new TestClient(broker, V5);
        await sub.ConnectAsync("sub", properties: new MqttProperties { MaximumPacketSize = 64 });
        await sub.SubscribeAsync("m", QualityOfService.AtLeastOnce);
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        await pub.PublishAsync("m", new string('x', 200), QualityOfService.AtLeastOnce);
        await pub.PublishAsync("m", "small", QualityOfService.AtLeastOnce);
        var p = await sub.ExpectPublishAsync();
        Assert.Equal("small", Text.Of(p.Payload)); // [MQTT-3.1.2-24], [MQTT-3.1.2-25]
        Assert.True(broker.Statistics.MessagesDropped >= 1);
    }

    [Fact]
    public async Task SessionExpiry_RaisedFromZeroAtDisconnect_IsProtocolError()
    {
        await using var broker = NewBroker();
        await using var c = new TestClient(broker, V5);
        await c.ConnectAsync("c");
        await c.SendAsync(new DisconnectPacket { Properties = new MqttProperties { SessionExpiryInterval = 60 } });
        // Raising the expiry from 0 is a protocol error (section 3.14.2.2.2); the server's DISCONNECT carries no
        // Session Expiry Interval [MQTT-3.14.2-2].
        var disconnect = await c.ExpectAsync<DisconnectPacket>();
        Assert.Equal(ReasonCode.ProtocolError, disconnect.ReasonCode);
        Assert.Null(disconnect.Properties?.SessionExpiryInterval);
    }

    [Fact]
    public async Task ReceiveMaximumOfClient_LimitsMessagesInFlight()
    {
        await using var broker = NewBroker();
        await using var sub = new TestClient(broker, V5);
        await sub.ConnectAsync("sub", properties: new MqttProperties { ReceiveMaximum = 2 });
        await sub.SubscribeAsync("rm", QualityOfService.AtLeastOnce);
        await using var pub = new TestClient(broker, V5);
        await pub.ConnectAsync("pub");
        for (var i = 0; i < 4; i++)
        {
            await pub.PublishAsync("rm", i.ToString(System.Globalization.CultureInfo.InvariantCulture), QualityOfService.AtLeastOnce);
            await pub.ExpectAsync<PublishAckPacket>();
        }

        var first = await sub.ExpectPublishAsync();
        var second = await sub.ExpectPublishAsync();
        await sub.ExpectNothingAsync(); // only two in flight [MQTT-3.3.4-9], [MQTT-4.9.0-2]
        await sub.SendAsync(new PublishAckPacket(PacketType.PubAck, first.PacketId));
        Assert.Equal("2", Text.Of((await sub.ExpectPublishAsync()).Payload));
        Assert.Equal("1", Text.Of(second.Payload));
    }

    [Fact]
    public async Task AssignedClientIdentifier_ForEmptyId() // [MQTT-3.1.3-7], [MQTT-3.2.2-16]
    {
        await using var broker = NewBroker();
        await using var c = new TestClient(broker, V5);
        var ack = await c.ConnectAsync("");
        Assert.False(string.IsNullOrEmpty(ack.Properties?.AssignedClientIdentifier));
        _ = Encoding.UTF8;
    }
}
