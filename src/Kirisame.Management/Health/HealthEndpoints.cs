using Kirisame.Broker;
using Kirisame.Management.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Kirisame.Management.Health;

/// /health/live: the process answers. /health/ready: it should be sent traffic — started (every listener
/// bound), not stopping, and the store open and writing. Neither needs credentials: probes (a load balancer,
/// Kubernetes) rarely have any, and the answers say nothing about clients or messages.
internal static class HealthEndpoints
{
    public sealed record HealthReport(string Status, IReadOnlyList<ReadinessCheck> Checks);

    public static void Map(IEndpointRouteBuilder app)
    {
        var health = app.MapGroup("/health").WithTags("Health").AllowAnonymous();
        health.MapGet("/live", () => TypedResults.Ok(new HealthReport("live", []))).WithName("Live").WithSummary("200 while the process serves requests.");
        health.MapGet("/ready", Ready).WithName("Ready")
            .WithSummary("200 when every MQTT listener is bound, the broker is not stopping and the store can write; 503 otherwise.")
            .Produces<HealthReport>(StatusCodes.Status503ServiceUnavailable);
    }

    private static IResult Ready(ManagementState state, MqttBroker broker)
    {
        var checks = state.Readiness(broker);
        var ready = checks.All(c => c.Ready);
        return TypedResults.Json(new HealthReport(ready ? "ready" : "not_ready", checks),
            statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }
}
