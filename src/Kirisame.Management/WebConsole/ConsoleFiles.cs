using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;

namespace Kirisame.Management.WebConsole;

/// The web console: static files (WebConsole/wwwroot) embedded in this assembly, so they are served from the
/// management listener with no internet access and from a single-file publish alike (docs/adr/0017). The files
/// need no credentials: they hold no data, and the page logs in to the API itself (HTTP Basic or a token,
/// kept in the tab's sessionStorage).
internal static class ConsoleFiles
{
    public const string BasePath = "/console/";

    private const string ResourcePrefix = "console/";

    /// Scripts, styles and images from this origin only; no inline script; WebSocket connections to any MQTT
    /// listener (another port is another origin); never framed (the buttons kick clients and delete data).
    /// mqtt.js runs its keep-alive timers in a worker it makes from a blob, so that a background tab's throttled
    /// timers do not let the connection time out: blob: workers are allowed.
    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; worker-src 'self' blob:; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; "
        + "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'";

    private static readonly Lazy<FrozenDictionary<string, ConsoleFile>> s_files = new(Load);

    private sealed record ConsoleFile(byte[] Content, string ContentType, string ETag);

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/", () => Results.Redirect(BasePath)).ExcludeFromDescription();
        app.MapGet(BasePath + "{**path}", Serve).ExcludeFromDescription();
    }

    /// The embedded file names (console/index.html, …), for tests and diagnostics.
    internal static IEnumerable<string> Names => s_files.Value.Keys;

    private static IResult Serve(HttpContext context, string? path)
    {
        // Routing matches /console too; the page's relative links need the slash.
        if (string.IsNullOrEmpty(path) && !context.Request.Path.Value!.EndsWith('/'))
            return Results.Redirect(BasePath);
        var name = string.IsNullOrEmpty(path) ? "index.html" : path;
        if (!s_files.Value.TryGetValue(name, out var file))
            return Results.NotFound();
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        // Revalidated at each load (a new build serves new files at once); the ETag makes that a 304.
        headers.CacheControl = "no-cache";
        headers.ETag = file.ETag;
        if (context.Request.Headers.IfNoneMatch.Contains(file.ETag))
            return Results.StatusCode(StatusCodes.Status304NotModified);
        return Results.Bytes(file.Content, file.ContentType);
    }

    private static FrozenDictionary<string, ConsoleFile> Load()
    {
        var assembly = typeof(ConsoleFiles).Assembly;
        var files = new Dictionary<string, ConsoleFile>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            // RecursiveDir gives the build machine's separator.
            var name = resource.Replace('\\', '/');
            if (!name.StartsWith(ResourcePrefix, StringComparison.Ordinal))
                continue;
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var content = copy.ToArray();
            var etag = new EntityTagHeaderValue($"\"{Convert.ToHexStringLower(SHA256.HashData(content).AsSpan(0, 12))}\"").ToString();
            files[name[ResourcePrefix.Length..]] = new ConsoleFile(content, ContentType(name), etag);
        }

        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static string ContentType(string name) => Path.GetExtension(name).ToLowerInvariant() switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        ".json" => "application/json",
        _ => "text/plain; charset=utf-8",
    };
}
