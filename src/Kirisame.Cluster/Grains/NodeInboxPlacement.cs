using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace Kirisame.Cluster.Grains;

/// Places a <see cref="NodeInbox"/> on the silo its key names (<see cref="NodeInboxKey"/>), and nowhere else: an inbox is the node itself. The silo
/// is named even when this one does not know it as a member yet (it joined a moment ago); a call to one that is gone
/// fails, which the sender takes as "that node is gone" until the membership says so.
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
        return Task.FromResult(SiloAddress.FromParsableString(NodeInboxKey.AddressOf(target.GrainIdentity.Key.ToString()!)));
    }
}
