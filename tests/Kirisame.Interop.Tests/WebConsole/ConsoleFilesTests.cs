using System.Net;
using Kirisame.Interop.Tests.Management;

namespace Kirisame.Interop.Tests.WebConsole;

/// The console's files over plain HTTP: served without credentials (they hold no data) from the management
/// listener, every asset from the build, with a policy that keeps scripts to the console's own.
public sealed class ConsoleFilesTests(ManagementFixture fixture) : IClassFixture<ManagementFixture>
{
    private ManagedBroker Broker => fixture.Broker;

    [Theory]
    [InlineData("/console/", "text/html")]
    [InlineData("/console/console.js", "text/javascript")]
    [InlineData("/console/chart.js", "text/javascript")]
    [InlineData("/console/console.css", "text/css")]
    [InlineData("/console/favicon.svg", "image/svg+xml")]
    [InlineData("/console/vendor/mqtt.min.js", "text/javascript")]
    [InlineData("/console/vendor/mqtt.LICENSE.md", "text/plain")]
    public async Task EveryAsset_IsServedWithoutCredentials_UnderTheContentSecurityPolicy(string path, string mediaType)
    {
        using var response = await Broker.Client(Caller.Nobody).GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        var policy = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self'", policy, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.True((await response.Content.ReadAsByteArrayAsync()).Length > 0);
    }

    [Fact]
    public async Task TheRoot_AndConsoleWithoutASlash_RedirectToTheConsole_AndAnUnknownFileIs404()
    {
        using var handler = new HttpClientHandler { AllowAutoRedirect = false };
        using var client = new HttpClient(handler) { BaseAddress = new Uri(Broker.BaseUrl) };

        foreach (var path in new[] { "/", "/console" })
        {
            using var redirect = await client.GetAsync(path);
            Assert.Equal(HttpStatusCode.Redirect, redirect.StatusCode);
            Assert.Equal("/console/", redirect.Headers.Location?.OriginalString);
        }

        using var missing = await client.GetAsync("/console/missing.js");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task AnUnchangedFile_IsAnsweredWith304()
    {
        using var first = await Broker.Client(Caller.Nobody).GetAsync("/console/console.js");
        var etag = first.Headers.ETag!;
        using var again = new HttpRequestMessage(HttpMethod.Get, "/console/console.js");
        again.Headers.IfNoneMatch.Add(etag);

        using var response = await Broker.Client(Caller.Nobody).SendAsync(again);

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
    }

    [Fact]
    public async Task TheApi_AnswersTheConsolesScript401WithoutAChallenge_SoTheBrowserShowsNoDialogOfItsOwn()
    {
        using var plain = await Broker.Client(Caller.Nobody).GetAsync("/api/v1/me");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/me");
        request.Headers.Add("X-Requested-With", "XMLHttpRequest");
        using var script = await Broker.Client(Caller.Nobody).SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, plain.StatusCode);
        Assert.Contains("Basic", plain.Headers.WwwAuthenticate.Select(h => h.Scheme));
        Assert.Equal(HttpStatusCode.Unauthorized, script.StatusCode);
        Assert.Empty(script.Headers.WwwAuthenticate);
    }

    [Fact]
    public async Task Me_SaysWhoAndWhichRole()
    {
        var admin = await Broker.GetJsonAsync("/api/v1/me");
        var viewer = await Broker.GetJsonAsync("/api/v1/me", Caller.ViewerToken);

        Assert.Equal(("admin", "administrator", "password"),
            (admin.GetProperty("name").GetString(), admin.GetProperty("role").GetString(), admin.GetProperty("authentication").GetString()));
        Assert.Equal(("dashboard", "viewer", "token"),
            (viewer.GetProperty("name").GetString(), viewer.GetProperty("role").GetString(), viewer.GetProperty("authentication").GetString()));
    }
}
