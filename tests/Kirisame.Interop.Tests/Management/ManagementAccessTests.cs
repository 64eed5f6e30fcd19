using System.Net;
using Kirisame.Testing;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Management;

/// Who may do what: roles (viewer < monitoring < administrator), tokens, bad credentials, bad input, and
/// requests from other web sites. Every refusal leaves the broker as it was.
public sealed class ManagementAccessTests(ManagementFixture fixture) : IClassFixture<ManagementFixture>
{
    private ManagedBroker Broker => fixture.Broker;

    [Fact]
    public async Task AViewer_CannotKick_403_AndTheClientStaysConnected()
    {
        var id = Unique.ClientId("protected");
        await using var client = await MqttNetClient.ConnectAsync(Broker.MqttPort, MqttProtocolVersion.V500, id);

        foreach (var caller in new[] { Caller.Viewer, Caller.ViewerToken, Caller.Monitoring })
            ProblemAssert.Is(HttpStatusCode.Forbidden, await Broker.SendAsync(HttpMethod.Post, $"/api/v1/clients/{id}/disconnect", caller: caller), "administrator role");

        await client.PingAsync();
        Assert.True(client.Client.IsConnected);
        Assert.True((await Broker.GetJsonAsync($"/api/v1/clients/{id}", Caller.Viewer)).GetProperty("connected").GetBoolean());
    }

    [Fact]
    public async Task AViewer_CannotDeletePublishOrSubscribe_AndNothingChanges()
    {
        var id = Unique.ClientId("untouched");
        var topic = Unique.Topic("untouched");
        await using var client = await MqttNetClient.ConnectAsync(Broker.MqttPort, MqttProtocolVersion.V500, id,
            b => b.WithCleanStart(false).WithSessionExpiryInterval(600));
        await client.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);
        await client.PublishAsync(topic, "kept", MqttQualityOfServiceLevel.AtLeastOnce, retain: true);
        await client.WaitForMessagesAsync(1);
        var encoded = Uri.EscapeDataString(topic);

        ProblemAssert.Is(HttpStatusCode.Forbidden, await Broker.SendAsync(HttpMethod.Delete, $"/api/v1/sessions/{id}", caller: Caller.Viewer));
        ProblemAssert.Is(HttpStatusCode.Forbidden, await Broker.SendAsync(HttpMethod.Delete, $"/api/v1/retained/message?topic={encoded}", caller: Caller.Monitoring));
        ProblemAssert.Is(HttpStatusCode.Forbidden, await Broker.SendAsync(HttpMethod.Post, "/api/v1/publish", new { topic, payload = "no" }, Caller.ViewerToken));
        ProblemAssert.Is(HttpStatusCode.Forbidden, await Broker.SendAsync(HttpMethod.Post, $"/api/v1/sessions/{id}/subscriptions", new { filter = "x/#" }, Caller.Viewer));
        ProblemAssert.Is(HttpStatusCode.Forbidden, await Broker.SendAsync(HttpMethod.Delete, $"/api/v1/sessions/{id}/subscriptions?filter={encoded}", caller: Caller.Viewer));

        await client.PingAsync();
        Assert.Single(client.Messages); // nothing published
        Assert.Equal([topic], (await Broker.GetJsonAsync($"/api/v1/sessions/{id}/subscriptions")).EnumerateArray().Select(s => s.GetProperty("filter").GetString()));
        Assert.Equal("kept", (await Broker.GetJsonAsync($"/api/v1/retained/message?topic={encoded}")).GetProperty("payload").GetString());
        Assert.True((await Broker.GetJsonAsync($"/api/v1/sessions/{id}")).GetProperty("connected").GetBoolean());
    }

    [Fact]
    public async Task WithoutOrWithWrongCredentials_401_NamingTheSchemes()
    {
        var anonymous = await Broker.SendAsync(HttpMethod.Get, "/api/v1/overview", caller: Caller.Nobody);
        ProblemAssert.Is(HttpStatusCode.Unauthorized, anonymous, "needs credentials");

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/clients");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "kirisame_not-a-token");
        using var response = await Broker.Client(Caller.Nobody).SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var schemes = response.Headers.WwwAuthenticate.Select(h => h.Scheme).ToList();
        Assert.Contains("Basic", schemes);
        Assert.Contains("Bearer", schemes);

        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/api/v1/clients");
        wrong.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String("admin:guess"u8.ToArray()));
        using var refused = await Broker.Client(Caller.Nobody).SendAsync(wrong);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task AUserWithoutARole_IsToldWhichSettingGivesOne()
    {
        var response = await Broker.SendAsync(HttpMethod.Get, "/api/v1/overview", caller: Caller.NoRole);

        ProblemAssert.Is(HttpStatusCode.Forbidden, response, "Management:Roles:norole");
    }

    [Fact]
    public async Task EachRole_ReadsWhatItMay()
    {
        foreach (var caller in new[] { Caller.Viewer, Caller.ViewerToken, Caller.Monitoring, Caller.Admin, Caller.AdminToken })
        {
            await Broker.GetJsonAsync("/api/v1/overview", caller);
            await Broker.GetJsonAsync("/api/v1/clients", caller);
            await Broker.GetJsonAsync("/api/v1/sessions", caller);
            await Broker.GetJsonAsync("/api/v1/subscriptions", caller);
            await Broker.GetJsonAsync("/api/v1/retained", caller);
        }

        using var metrics = await Broker.Client(Caller.Monitoring).GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        using var refused = await Broker.Client(Caller.Viewer).GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }

    [Fact]
    public async Task BadInput_IsAProblemDetailsAnswer_AndChangesNothing()
    {
        var id = Unique.ClientId("bad-input");
        await using var client = await MqttNetClient.ConnectAsync(Broker.MqttPort, MqttProtocolVersion.V500, id);
        var before = (await Broker.GetJsonAsync("/api/v1/overview")).GetProperty("messages").GetProperty("received").GetInt64();

        ProblemAssert.Is(HttpStatusCode.BadRequest, await Broker.SendAsync(HttpMethod.Post, "/api/v1/publish", rawJson: """{ "topic": """), "JSON");
        ProblemAssert.Is(HttpStatusCode.BadRequest, await Broker.SendAsync(HttpMethod.Post, "/api/v1/publish", new { topic = "a/+", payload = "x" }), "not a valid topic name");
        ProblemAssert.Is(HttpStatusCode.BadRequest, await Broker.SendAsync(HttpMethod.Post, "/api/v1/publish", new { topic = "a", payload = "x", qos = 3 }), "qos must be 0, 1 or 2");
        ProblemAssert.Is(HttpStatusCode.BadRequest, await Broker.SendAsync(HttpMethod.Post, "/api/v1/publish", new { topic = "a", payloadBase64 = "%%%" }), "base64");
        ProblemAssert.Is(HttpStatusCode.BadRequest, await Broker.SendAsync(HttpMethod.Post, $"/api/v1/sessions/{id}/subscriptions", new { filter = "a/#/b" }), "refused");
        ProblemAssert.Is(HttpStatusCode.BadRequest, await Broker.SendAsync(HttpMethod.Post, $"/api/v1/sessions/{id}/subscriptions", new { filter = "a", qos = 7 }), "qos");
        ProblemAssert.Is(HttpStatusCode.BadRequest, await Broker.SendAsync(HttpMethod.Get, "/api/v1/retained?filter=a/%23/b"), "not a valid topic filter");
        ProblemAssert.Is(HttpStatusCode.BadRequest, await Broker.SendAsync(HttpMethod.Get, "/api/v1/clients?limit=5000"), "limit must be between 1 and 1000");
        ProblemAssert.Is(HttpStatusCode.BadRequest, await Broker.SendAsync(HttpMethod.Get, "/api/v1/clients?connected=maybe"), "connected");
        ProblemAssert.Is(HttpStatusCode.BadRequest, await Broker.SendAsync(HttpMethod.Get, "/api/v1/retained/message"), "topic query parameter");
        ProblemAssert.Is(HttpStatusCode.NotFound, await Broker.SendAsync(HttpMethod.Get, "/api/v1/no-such-thing"));

        Assert.Empty((await Broker.GetJsonAsync($"/api/v1/sessions/{id}/subscriptions")).EnumerateArray());
        Assert.Equal(before, (await Broker.GetJsonAsync("/api/v1/overview")).GetProperty("messages").GetProperty("received").GetInt64());
        Assert.True(client.Client.IsConnected);
    }

    [Fact]
    public async Task ARequestFromAnotherSite_ThatWouldChangeSomething_IsRefused()
    {
        var id = Unique.ClientId("cross-site");
        await using var client = await MqttNetClient.ConnectAsync(Broker.MqttPort, MqttProtocolVersion.V500, id);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/clients/{id}/disconnect");
        request.Headers.Add("Origin", "http://attacker.example");

        using var response = await Broker.Client(Caller.Admin).SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        await client.PingAsync();
        Assert.True(client.Client.IsConnected);
    }

    [Fact]
    public async Task ClientIdsWithSlashesAndSpaces_AreReachedEscaped()
    {
        var id = "plant/line 2/" + Guid.NewGuid().ToString("N");
        await using var client = await MqttNetClient.ConnectAsync(Broker.MqttPort, MqttProtocolVersion.V500, id);

        var shown = await Broker.GetJsonAsync($"/api/v1/clients/{Uri.EscapeDataString(id)}");

        Assert.Equal(id, shown.GetProperty("clientId").GetString());
    }
}
