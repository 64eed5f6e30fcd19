using Kirisame.Management.Api;
using Microsoft.AspNetCore.Http;

namespace Kirisame.Management.Security;

/// Keeps web pages from using the API through a browser on this machine. A page from another site can make
/// the browser send a form POST (no preflight) to 127.0.0.1, with Basic credentials the browser remembers, and
/// can point its own host name at 127.0.0.1 (DNS rebinding) to read the answers. So: a request that changes
/// something and carries an Origin other than the API's own is refused, and while the API is open (no
/// credentials) only loopback host names are answered.
internal sealed class CrossSiteGuard(RequestDelegate next, bool loopbackHostsOnly)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        if (loopbackHostsOnly && !IsLoopbackHost(request.Host.Host))
        {
            await Problems.WriteAsync(context, StatusCodes.Status403Forbidden, "Forbidden",
                $"While no admin users or tokens are configured this API answers only to loopback host names, not '{request.Host.Host}'.");
            return;
        }

        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method) && !HttpMethods.IsOptions(request.Method)
            && request.Headers.Origin is [{ } origin] && !SameOrigin(origin, request))
        {
            await Problems.WriteAsync(context, StatusCodes.Status403Forbidden, "Forbidden",
                $"Cross-site request refused (Origin {origin}).");
            return;
        }

        await next(context);
    }

    private static bool SameOrigin(string origin, HttpRequest request) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var uri)
        && string.Equals(uri.Scheme, request.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);

    private static bool IsLoopbackHost(string host) =>
        host.Length == 0 // HTTP/1.0 without Host
        || host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var address) && System.Net.IPAddress.IsLoopback(address));
}
