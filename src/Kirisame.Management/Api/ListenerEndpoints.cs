using Kirisame.Management.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Kirisame.Management.Api;

/// The MQTT listeners: listed to anyone with access, added, stopped and given other TLS files by an
/// administrator without a restart (ADR 0019). Changes last until the server stops.
internal static class ListenerEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        var listeners = api.MapGroup("/listeners").WithTags("Listeners");
        listeners.MapGet("", (ManagementState state) => TypedResults.Ok(state.Listeners()))
            .WithName("ListListeners").WithSummary("The MQTT listeners: name, protocol and the address each is bound to.");
        listeners.MapPost("", AddAsync).WithName("AddListener")
            .WithSummary("Adds a TCP (mqtt) or TLS (mqtts) listener now, with the keys of Listeners:NAME; it lasts until the server stops (not written to the configuration).")
            .RequireAuthorization(ManagementRoles.Administrator);
        listeners.MapDelete("/{name}", StopAsync).WithName("StopListener")
            .WithSummary("Stops a listener added through the API: new connections are refused, open ones go on. Configured listeners are changed in the configuration.")
            .RequireAuthorization(ManagementRoles.Administrator);
        listeners.MapPut("/{name}/tls", ChangeTlsAsync).WithName("ChangeListenerTls")
            .WithSummary("Gives a TLS listener other certificate, key or client CA files, loaded now and used from the next handshake on.")
            .RequireAuthorization(ManagementRoles.Administrator);
    }

    private static async Task<Results<Created, ProblemHttpResult>> AddAsync(ManagementContext context, ListenerRequest request)
    {
        if (context.ListenerAdmin is not { } admin)
            return NotHosted();
        if (string.IsNullOrWhiteSpace(request.Name) || request.Name.Contains(':', StringComparison.Ordinal))
            return Problems.BadRequest("name is required and may not contain ':'.");
        var result = await admin.AddAsync(request);
        return result.Kind == ListenerResultKind.Done ? TypedResults.Created($"/api/v1/listeners/{Uri.EscapeDataString(request.Name)}") : Problem(result);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> StopAsync(ManagementContext context, string name)
    {
        if (context.ListenerAdmin is not { } admin)
            return NotHosted();
        var result = await admin.StopAsync(name);
        return result.Kind == ListenerResultKind.Done ? TypedResults.NoContent() : Problem(result);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> ChangeTlsAsync(ManagementContext context, string name, TlsFilesRequest request)
    {
        if (context.ListenerAdmin is not { } admin)
            return NotHosted();
        if (string.IsNullOrEmpty(request.Certificate))
            return Problems.BadRequest("certificate is required (a PEM or PFX file on the server).");
        var result = await admin.ChangeTlsAsync(name, request);
        return result.Kind == ListenerResultKind.Done ? TypedResults.NoContent() : Problem(result);
    }

    private static ProblemHttpResult NotHosted() => Problems.NotFound("This process does not offer listener changes.");

    private static ProblemHttpResult Problem(ListenerResult result) => result.Kind switch
    {
        ListenerResultKind.NotFound => Problems.NotFound(result.Detail),
        ListenerResultKind.Conflict => Problems.Conflict(result.Detail),
        _ => Problems.Make(StatusCodes.Status422UnprocessableEntity, "Listener settings not usable", result.Detail + " Nothing was changed."),
    };
}
