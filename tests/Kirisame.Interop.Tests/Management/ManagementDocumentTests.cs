using System.Net;
using System.Text.Json;

namespace Kirisame.Interop.Tests.Management;

/// The OpenAPI document and the health endpoints.
public sealed class ManagementDocumentTests(ManagementFixture fixture) : IClassFixture<ManagementFixture>
{
    private ManagedBroker Broker => fixture.Broker;

    /// Every endpoint of the API, as method and path template.
    private static readonly string[] s_endpoints =
    [
        "GET /health/live", "GET /health/ready",
        "GET /api/v1/overview", "GET /api/v1/configuration", "GET /api/v1/subscriptions",
        "GET /api/v1/clients", "GET /api/v1/clients/{clientId}", "POST /api/v1/clients/{clientId}/disconnect",
        "GET /api/v1/sessions", "GET /api/v1/sessions/{clientId}", "DELETE /api/v1/sessions/{clientId}",
        "GET /api/v1/sessions/{clientId}/subscriptions", "POST /api/v1/sessions/{clientId}/subscriptions", "DELETE /api/v1/sessions/{clientId}/subscriptions",
        "GET /api/v1/retained", "GET /api/v1/retained/message", "DELETE /api/v1/retained/message",
        "POST /api/v1/publish", "GET /api/v1/topics", "GET /api/v1/topics/rates", "GET /api/v1/me",
        "GET /api/v1/listeners", "POST /api/v1/listeners", "DELETE /api/v1/listeners/{name}", "PUT /api/v1/listeners/{name}/tls",
        "GET /api/v1/tenants", "GET /api/v1/tenants/{name}", "POST /api/v1/tenants", "PUT /api/v1/tenants/{name}/quotas", "DELETE /api/v1/tenants/{name}",
        "GET /api/v1/logging", "PUT /api/v1/logging", "GET /api/v1/cluster",
        "GET /api/v1/security/users", "POST /api/v1/security/users", "PUT /api/v1/security/users/{userName}/password",
        "DELETE /api/v1/security/users/{userName}", "POST /api/v1/security/acl/reload", "GET /api/v1/security/bans",
        "DELETE /api/v1/security/bans/{address}",
    ];

    [Fact]
    public async Task TheOpenApiDocument_ListsEveryEndpoint_AndNothingElse()
    {
        var document = await Broker.GetJsonAsync("/api/v1/openapi.json", Caller.Viewer);

        Assert.StartsWith("3.", document.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        Assert.Equal("Kirisame management API", document.GetProperty("info").GetProperty("title").GetString());
        var documented = document.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(operation => $"{operation.Name.ToUpperInvariant()} {path.Name}"))
            .Order(StringComparer.Ordinal);
        Assert.Equal(s_endpoints.Order(StringComparer.Ordinal), documented);
        var client = document.GetProperty("components").GetProperty("schemas").GetProperty("ClientView").GetProperty("properties");
        Assert.True(client.TryGetProperty("clientId", out _));
        Assert.True(client.TryGetProperty("listener", out _));
    }

    [Fact]
    public async Task EveryDocumentedEndpoint_IsServed()
    {
        var id = Kirisame.Testing.FreePort.GetLoopbackPort().ToString(System.Globalization.CultureInfo.InvariantCulture); // a client id nobody holds
        foreach (var endpoint in s_endpoints)
        {
            var (method, path) = (endpoint.Split(' ')[0], endpoint.Split(' ')[1].Replace("{clientId}", "missing-" + id, StringComparison.Ordinal)
                .Replace("{name}", "missing-" + id, StringComparison.Ordinal));
            var response = await Broker.SendAsync(new HttpMethod(method), path, method == "POST" ? new { } : null);
            // The route exists: an answer from the endpoint (2xx, or a problem of its own), never the router's 404/405.
            Assert.NotEqual(HttpStatusCode.MethodNotAllowed, response.Status);
            if (response.Status == HttpStatusCode.NotFound)
                Assert.Contains("missing-" + id, response.Body!.Value.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Health_LiveAndReady_AnswerWithoutCredentials()
    {
        var live = await Broker.GetJsonAsync("/health/live", Caller.Nobody);
        var ready = await Broker.GetJsonAsync("/health/ready", Caller.Nobody);

        Assert.Equal("live", live.GetProperty("status").GetString());
        Assert.Equal("ready", ready.GetProperty("status").GetString());
        var checks = ready.GetProperty("checks").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!, c => c);
        Assert.True(checks["listeners"].GetProperty("ready").GetBoolean());
        Assert.Contains($"127.0.0.1:{Broker.MqttPort}", checks["listeners"].GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.True(checks["store"].GetProperty("ready").GetBoolean());
        Assert.True(checks["broker"].GetProperty("ready").GetBoolean());
        Assert.Equal(JsonValueKind.Array, ready.GetProperty("checks").ValueKind);
    }
}
