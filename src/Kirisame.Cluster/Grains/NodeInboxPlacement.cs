using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace Kirisame.Cluster.Grains;

/// Places a <see cref="NodeInbox"/> on the silo its key names, and nowhere else: an inbox is the node itself. A key
/// naming a silo that is not (or no longer) a member fails the call, which the sender takes as "that node is gone".
[GenerateSerializer]
[Immutable]
internal sealed class NodeInboxPlacement : PlacementStrategy
{
    internal static readonly NodeInboxPlacement Instance = new();
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
internal sealed class NodeInboxPlacementAttribute() : PlacementAttribute(NodeInboxPlacement.Instance);

internal sealed class NodeInboxPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var key = target.GrainIdentity.Key.ToString()!;
        var silo = SiloAddress.FromParsableString(key);
        if (Array.IndexOf(context.GetCompatibleSilos(target), silo) < 0)
            throw new OrleansException($"Node {key} is not a member of the cluster.");
        return Task.FromResult(silo);
    }
}
