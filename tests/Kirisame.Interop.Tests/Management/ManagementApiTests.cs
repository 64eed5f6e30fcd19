using System.Net;
using System.Text.Json;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Management;

/// The REST API against the real server, with MQTTnet clients on the other side.
public sealed class ManagementApiTests(ManagementFixture fixture) : IClassFixture<ManagementFixture>
{
    private ManagedBroker Broker => fixture.Broker;

    private Task<MqttNetClient> ConnectAsync(string clientId, bool persistent = false, string? user = null) =>
        MqttNetClient.ConnectAsync(Broker.MqttPort, MqttProtocolVersion.V500, clientId, builder =>
        {
            if (persistent)
                builder.WithCleanStart(false).WithSessionExpiryInterval(3600);
            if (user is not null)
                builder.WithCredentials(user, "any");
        });

    [Fact]
    public async Task Overview_ShowsVersionUptimeCountsAndTheListener()
    {
        var id = Unique.ClientId("overview");
        await using var client = await ConnectAsync(id);
        await client.PublishAsync(Unique.Topic("overview"), "x", MqttQualityOfServiceLevel.AtLeastOnce);

        var overview = await Broker.GetJsonAsync("/api/v1/overview");

        Assert.Matches(@"^\d+\.\d+\.\d+$", overview.GetProperty("version").GetString());
        Assert.True(overview.GetProperty("uptimeSeconds").GetInt64() >= 0);
        Assert.True(overview.GetProperty("connections").GetProperty("connected").GetInt64() >= 1);
        Assert.True(overview.GetProperty("sessions").GetInt32() >= 1);
        Assert.True(overview.GetProperty("messages").GetProperty("received").GetInt64() >= 1);
        Assert.True(overview.GetProperty("storeHealthy").GetBoolean());
        Assert.True(overview.GetProperty("rates").TryGetProperty("receivedPerSecond", out _));
        Assert.Equal(0, overview.GetProperty("drops").GetProperty("storage_unavailable").GetInt64());
        var listener = Assert.Single(overview.GetProperty("listeners").EnumerateArray());
        Assert.Equal($"127.0.0.1:{Broker.MqttPort}", listener.GetProperty("endPoint").GetString());
    }

    [Fact]
    public async Task Clients_AreListedWithFiltersAndPaging_AndShownOneByOne()
    {
        var prefix = Unique.ClientId("filter");
        await using var alice = await ConnectAsync(prefix + "-a", user: "alice-" + prefix);
        await using var bob = await ConnectAsync(prefix + "-b", user: "bob-" + prefix);

        Assert.Equal([prefix + "-a", prefix + "-b"], await Broker.ClientIdsAsync($"?id={prefix}"));
        Assert.Equal([prefix + "-b"], await Broker.ClientIdsAsync($"?user=bob-{prefix}"));
        Assert.Equal([prefix + "-a", prefix + "-b"], await Broker.ClientIdsAsync($"?id={prefix}&address=127.0.0.1&listener=tcp&connected=true"));
        Assert.Empty(await Broker.ClientIdsAsync($"?id={prefix}&listener=ws"));
        Assert.Empty(await Broker.ClientIdsAsync($"?id={prefix}&address=10."));
        var second = await Broker.GetJsonAsync($"/api/v1/clients?id={prefix}&offset=1&limit=1");
        Assert.Equal(2, second.GetProperty("total").GetInt32());
        Assert.Equal(prefix + "-b", Assert.Single(second.GetProperty("items").EnumerateArray()).GetProperty("clientId").GetString());

        var shown = await Broker.GetJsonAsync($"/api/v1/clients/{prefix}-a");
        Assert.True(shown.GetProperty("connected").GetBoolean());
        Assert.Equal("5.0", shown.GetProperty("protocolVersion").GetString());
        Assert.Equal("alice-" + prefix, shown.GetProperty("userName").GetString());
        Assert.Equal("tcp", shown.GetProperty("listener").GetString());
        Assert.StartsWith("127.0.0.1:", shown.GetProperty("address").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kick_DisconnectsTheClientWithAdministrativeAction_AndItsPersistentSessionStays()
    {
        var id = Unique.ClientId("kick");
        await using var client = await ConnectAsync(id, persistent: true);

        var kicked = await Broker.SendAsync(HttpMethod.Post, $"/api/v1/clients/{id}/disconnect");

        Assert.Equal(HttpStatusCode.NoContent, kicked.Status);
        var disconnected = await Poll.WithTimeout(client.Disconnected, MqttNetClient.Timeout, "the kicked client's DISCONNECT");
        Assert.Equal(MqttClientDisconnectReason.AdministrativeAction, disconnected.Reason);
        Assert.True(await Poll.UntilAsync(() => !Broker.GetJsonAsync($"/api/v1/clients/{id}").Result.GetProperty("connected").GetBoolean(), MqttNetClient.Timeout));
        ProblemAssert.Is(HttpStatusCode.Conflict, await Broker.SendAsync(HttpMethod.Post, $"/api/v1/clients/{id}/disconnect"), "not connected");
        ProblemAssert.Is(HttpStatusCode.NotFound, await Broker.SendAsync(HttpMethod.Post, $"/api/v1/clients/{Unique.ClientId("nobody")}/disconnect"), "no session");
    }

    [Fact]
    public async Task Sessions_ShowQueueDepthDropsAndExpiry_AndDeleteEndsThem()
    {
        var id = Unique.ClientId("session");
        var topic = Unique.Topic("session");
        await using (var subscriber = await ConnectAsync(id, persistent: true))
            await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);
        await using (var publisher = await ConnectAsync(Unique.ClientId("publisher")))
        {
            // The fixture's Broker:MaxQueuedMessages is 3: of 5 QoS 1 messages for the offline session, 2 are dropped.
            for (var i = 0; i < 5; i++)
                await publisher.PublishAsync(topic, $"m{i}", MqttQualityOfServiceLevel.AtLeastOnce);
        }

        var session = await Broker.GetJsonAsync($"/api/v1/sessions/{id}");

        Assert.False(session.GetProperty("connected").GetBoolean());
        Assert.Equal(3, session.GetProperty("pendingMessages").GetInt32());
        Assert.True(session.GetProperty("pendingBytes").GetInt64() > 0);
        Assert.Equal(0, session.GetProperty("inflightMessages").GetInt32());
        Assert.Equal(3600, session.GetProperty("expiryInterval").GetInt64());
        Assert.True(session.GetProperty("expiresAt").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(50));
        Assert.Equal(1, session.GetProperty("subscriptionCount").GetInt32());
        Assert.Equal(2, session.GetProperty("drops").GetProperty("queue_full").GetInt64());
        var listed = await Broker.GetJsonAsync($"/api/v1/sessions?id={id}&connected=false");
        Assert.Equal(1, listed.GetProperty("total").GetInt32());

        Assert.Equal(HttpStatusCode.NoContent, (await Broker.SendAsync(HttpMethod.Delete, $"/api/v1/sessions/{id}")).Status);
        ProblemAssert.Is(HttpStatusCode.NotFound, await Broker.SendAsync(HttpMethod.Get, $"/api/v1/sessions/{id}"));
        ProblemAssert.Is(HttpStatusCode.NotFound, await Broker.SendAsync(HttpMethod.Delete, $"/api/v1/sessions/{id}"));
    }

    [Fact]
    public async Task Subscriptions_AddedThroughTheApi_Deliver_AndRemovedOnesStop()
    {
        var id = Unique.ClientId("subscribed");
        var topic = Unique.Topic("added");
        await using var client = await ConnectAsync(id);

        var added = await Broker.SendAsync(HttpMethod.Post, $"/api/v1/sessions/{id}/subscriptions", new { filter = topic + "/#", qos = 1 });
        Assert.Equal(HttpStatusCode.Created, added.Status);
        Assert.Equal(1, added.Body!.Value.GetProperty("grantedQos").GetInt32());
        var listed = await Broker.GetJsonAsync($"/api/v1/sessions/{id}/subscriptions");
        Assert.Equal(topic + "/#", Assert.Single(listed.EnumerateArray()).GetProperty("filter").GetString());
        var across = await Broker.GetJsonAsync($"/api/v1/subscriptions?clientId={id}");
        Assert.Equal(1, across.GetProperty("total").GetInt32());

        var published = await Broker.SendAsync(HttpMethod.Post, "/api/v1/publish", new { topic = topic + "/one", payload = "through the API", qos = 1 });
        Assert.Equal("delivered", published.Body!.Value.GetProperty("result").GetString());
        var received = Assert.Single(await client.WaitForMessagesAsync(1));
        Assert.Equal("through the API", received.Payload);

        Assert.Equal(HttpStatusCode.NoContent, (await Broker.SendAsync(HttpMethod.Delete, $"/api/v1/sessions/{id}/subscriptions?filter={Uri.EscapeDataString(topic + "/#")}")).Status);
        var after = await Broker.SendAsync(HttpMethod.Post, "/api/v1/publish", new { topic = topic + "/two", payload = "nobody", qos = 0 });
        Assert.Equal("no_matching_subscribers", after.Body!.Value.GetProperty("result").GetString());
        Assert.Empty((await Broker.GetJsonAsync($"/api/v1/sessions/{id}/subscriptions")).EnumerateArray());
    }

    [Fact]
    public async Task RetainedMessages_AreBrowsedReadAndDeleted()
    {
        var topic = Unique.Topic("retained");
        await using (var publisher = await ConnectAsync(Unique.ClientId("retainer")))
        {
            await publisher.PublishAsync(topic + "/a", "kept", MqttQualityOfServiceLevel.AtLeastOnce, retain: true);
            await publisher.PublishAsync(topic + "/b", "also kept", MqttQualityOfServiceLevel.AtMostOnce, retain: true);
        }

        // The QoS 0 one has no acknowledgement to wait for: it is stored once the broker has read it.
        string[] listed = [];
        await Poll.UntilAsync(() =>
        {
            var page = Broker.GetJsonAsync($"/api/v1/retained?filter={Uri.EscapeDataString(topic + "/+")}").GetAwaiter().GetResult();
            listed = [.. page.GetProperty("items").EnumerateArray().Select(r => r.GetProperty("topic").GetString()!)];
            return listed.Length >= 2;
        }, TimeSpan.FromSeconds(15));
        Assert.Equal([topic + "/a", topic + "/b"], listed);
        var one = await Broker.GetJsonAsync($"/api/v1/retained/message?topic={Uri.EscapeDataString(topic + "/a")}");
        Assert.Equal("kept", one.GetProperty("payload").GetString());
        Assert.Equal(Convert.ToBase64String("kept"u8.ToArray()), one.GetProperty("payloadBase64").GetString());
        Assert.Equal(1, one.GetProperty("qos").GetInt32());

        Assert.Equal(HttpStatusCode.NoContent, (await Broker.SendAsync(HttpMethod.Delete, $"/api/v1/retained/message?topic={Uri.EscapeDataString(topic + "/a")}")).Status);
        var left = await Broker.GetJsonAsync($"/api/v1/retained?filter={Uri.EscapeDataString(topic + "/#")}");
        Assert.Equal([topic + "/b"], left.GetProperty("items").EnumerateArray().Select(r => r.GetProperty("topic").GetString()));
        ProblemAssert.Is(HttpStatusCode.NotFound, await Broker.SendAsync(HttpMethod.Get, $"/api/v1/retained/message?topic={Uri.EscapeDataString(topic + "/a")}"));
    }

    [Fact]
    public async Task Publish_ReachesAnMqttSubscriber_WithRetainAndQoS()
    {
        var topic = Unique.Topic("api-publish");
        await using var subscriber = await ConnectAsync(Unique.ClientId("listener"));
        await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.ExactlyOnce);

        var published = await Broker.SendAsync(HttpMethod.Post, "/api/v1/publish",
            new { topic, payloadBase64 = Convert.ToBase64String([1, 2, 255]), qos = 2, retain = true }, Caller.AdminToken);

        Assert.Equal(HttpStatusCode.OK, published.Status);
        await subscriber.WaitForMessagesAsync(1);
        var message = Assert.Single(subscriber.ApplicationMessages);
        Assert.Equal(MqttQualityOfServiceLevel.ExactlyOnce, message.QualityOfServiceLevel);
        Assert.Equal(new byte[] { 1, 2, 255 }, System.Buffers.BuffersExtensions.ToArray(message.Payload));
        var retained = await Broker.GetJsonAsync($"/api/v1/retained/message?topic={Uri.EscapeDataString(topic)}");
        Assert.Equal(JsonValueKind.Null, retained.GetProperty("payload").ValueKind); // not UTF-8
        Assert.Equal("api-", retained.GetProperty("publisherClientId").GetString()![..4]);
    }

    [Fact]
    public async Task Configuration_IsShownWithDefaults_AndPasswordsRedacted()
    {
        var configuration = await Broker.GetJsonAsync("/api/v1/configuration", Caller.Monitoring);

        Assert.Equal(3, configuration.GetProperty(nameof(Broker)).GetProperty("MaxQueuedMessages").GetInt32());
        Assert.Equal(Broker.ManagementPort, configuration.GetProperty("Management").GetProperty("Port").GetInt32());
        Assert.Equal("administrator", configuration.GetProperty("Management").GetProperty("Roles").GetProperty("admin").GetString());
        Assert.True(configuration.GetProperty("Transport").TryGetProperty("MaxConnections", out _)); // a default, never written
        Assert.Equal("carol", Assert.Single(configuration.GetProperty("Authentication").GetProperty("ScramUsers").EnumerateArray()).GetString());
        var text = configuration.GetRawText();
        Assert.DoesNotContain("secret", text, StringComparison.Ordinal);
        ProblemAssert.Is(HttpStatusCode.Forbidden, await Broker.SendAsync(HttpMethod.Get, "/api/v1/configuration", caller: Caller.Viewer), "monitoring");
    }
}
