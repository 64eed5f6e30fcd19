using Kirisame.Broker.Routing;
using Kirisame.Broker.Sessions;
using static Kirisame.Broker.Tests.Routing.SubscriptionTreeTests;

namespace Kirisame.Broker.Tests.Routing;

/// What the tree keeps once subscriptions are gone, measured on the whole heap: so these tests run alone,
/// not beside other test classes that allocate meanwhile.
[Collection(nameof(SubscriptionTreeMemoryTests))]
public sealed class SubscriptionTreeMemoryTests
{
    /// Clients that come and go with filters of their own ("devices/{id}/cmd") must not grow the tree for
    /// good: once every such subscription is gone, the tree holds about what it held before.
    [Fact]
    public void UnsubscribedFilters_DoNotKeepMemory()
    {
        const int filters = 100_000;
        var tree = new SubscriptionTree();
        var session = new Session("s");
        tree.Add(Subscribe(session, "devices/+/cmd"));
        var before = GC.GetTotalMemory(forceFullCollection: true);

        for (var i = 0; i < filters; i++)
        {
            var filter = $"devices/{i}/cmd";
            tree.Add(Subscribe(session, filter));
            Assert.True(tree.Remove(session, filter, shareName: null));
        }

        var retained = GC.GetTotalMemory(forceFullCollection: true) - before;
        Assert.Equal(1, tree.Count);
        Assert.Same(session, Assert.Single(tree.Match("devices/1/cmd").Sessions).Session);
        // An empty node left behind per filter costs a few hundred bytes (tens of MB here); 4 MiB is noise.
        Assert.True(retained < 4 * 1024 * 1024, $"the tree kept {retained / 1024} KiB after {filters} filters came and went");
    }
}

[CollectionDefinition(nameof(SubscriptionTreeMemoryTests), DisableParallelization = true)]
public sealed class SubscriptionTreeMemoryCollection;
