using System.Security.Claims;
using System.Text;
using Kirisame.Broker;
using Kirisame.Broker.Clients;
using Kirisame.Management.Security;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Kirisame.Management.Api;

/// POST /api/v1/publish: a message published through an in-process client, so it goes through the same
/// pipeline as any client's (topic rules, the ACL under the admin's name, QoS 1/2 durability) and is counted
/// as received. The client lives for one request; its id starts with U+0000, which no network client can
/// send [MQTT-1.5.4-2], so it is neither listed nor taken over.
internal static class PublishEndpoint
{
    public static void Map(RouteGroupBuilder api) =>
        TenantScope.For(api.MapPost("/publish", PublishAsync).WithTags("Publish").WithName("Publish")
            .WithSummary("Publishes a message (in the tenant ?tenant= names, else the default one). The ACL applies under the admin's user or token name (anonymous when the API is open).")
            .RequireAuthorization(ManagementRoles.Administrator));

    private static async Task<Results<Ok<PublishResult>, ProblemHttpResult>> PublishAsync(MqttBroker broker, PublishRequest request,
        ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        if (RetainedEndpoints.Check(request.Topic) is { } problem)
            return problem;
        if (request.Qos is < 0 or > 2)
            return Problems.BadRequest($"qos must be 0, 1 or 2 (was {request.Qos}).");
        if (request.Payload is not null && request.PayloadBase64 is not null)
            return Problems.BadRequest("Give payload (text) or payloadBase64 (bytes), not both.");
        byte[] payload;
        try
        {
            payload = request.PayloadBase64 is { } base64 ? Convert.FromBase64String(base64) : Encoding.UTF8.GetBytes(request.Payload ?? "");
        }
        catch (FormatException)
        {
            return Problems.BadRequest("payloadBase64 is not valid base64.");
        }

        var name = user.FindFirstValue(ClaimTypes.AuthenticationMethod) == "anonymous" ? null : user.Identity?.Name;
        var options = new InProcessClientOptions { ClientId = "\0api-" + Guid.NewGuid().ToString("N"), UserName = name, Listener = ManagementAcl.ListenerName };
        var properties = new PublishProperties { MessageExpiryInterval = request.MessageExpiryInterval, ContentType = request.ContentType is { } type ? Encoding.UTF8.GetBytes(type) : null };
        ReasonCode code;
        try
        {
            await using var client = await InProcessClient.ConnectAsync(broker, options, cancellationToken);
            code = await client.PublishAsync(request.Topic!, payload, (QualityOfService)(request.Qos ?? 0), request.Retain ?? false, properties, cancellationToken);
        }
        catch (InProcessClientException ex)
        {
            return Problems.Unavailable($"The broker did not accept the publisher: {ex.Message}.");
        }

        return code switch
        {
            ReasonCode.Success => TypedResults.Ok(new PublishResult(request.Topic!, "delivered", 0)),
            ReasonCode.NoMatchingSubscribers => TypedResults.Ok(new PublishResult(request.Topic!, "no_matching_subscribers", (int)code)),
            ReasonCode.NotAuthorized => Problems.Forbidden($"The ACL does not allow {(name is null ? "anonymous clients" : $"'{name}'")} to publish to '{request.Topic}'."),
            ReasonCode.ImplementationSpecificError or ReasonCode.UnspecifiedError => Problems.Unavailable($"The broker refused the message: {BrokerText.Name(code)}."),
            _ => Problems.BadRequest($"The broker refused the message: {BrokerText.Name(code)} (0x{(byte)code:X2})."),
        };
    }
}

/// What the management API publishes is authorized as a client of this listener name would be; the server
/// gives it the Security section's ACL.
public static class ManagementAcl
{
    public const string ListenerName = "$management";
}
