using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Kirisame.Management.Api;

/// Turns what escapes an endpoint into problem details: a request the framework could not bind (bad JSON, a
/// query value of the wrong type) into a 400 that says which parameter and why; anything else into a 500 that
/// points to the log, where the exception is written.
internal sealed class ApiExceptionHandler(ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is BadHttpRequestException bad)
        {
            var detail = bad.InnerException is { } inner ? $"{bad.Message} {inner.Message}" : bad.Message;
            await Problems.WriteAsync(httpContext, bad.StatusCode, "Bad request", detail);
            return true;
        }

        logger.LogError(exception, "Management API: {Method} {Path} failed", httpContext.Request.Method, httpContext.Request.Path);
        await Problems.WriteAsync(httpContext, StatusCodes.Status500InternalServerError, "Internal error",
            "The request failed inside the broker; its log has the details.");
        return true;
    }
}
