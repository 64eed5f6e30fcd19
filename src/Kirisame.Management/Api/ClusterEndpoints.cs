using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Kirisame.Management.Api;

/// /api/v1/cluster: the nodes of the cluster this broker is a node of (docs/adr/0020); a single node answers with an
/// empty name and no nodes, so that a console can ask any broker.
internal static class ClusterEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/cluster", Get).WithTags("Cluster").WithName("GetCluster")
            .WithSummary("The cluster's name and its nodes that are not dead: address, status, whether it is this node, connected clients (null if it did not answer within a second).");
    }

    private static async Task<Ok<ClusterDescription>> Get(ManagementContext context) =>
        TypedResults.Ok(context.Cluster is { } cluster ? await cluster() : new ClusterDescription("", []));
}
