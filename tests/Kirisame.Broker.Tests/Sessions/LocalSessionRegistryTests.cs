using Kirisame.Broker.Sessions;

namespace Kirisame.Broker.Tests.Sessions;

/// The session registry's contract (docs/adr/0008), on the registry of one process: the newest claim holds a
/// client id, epochs only grow, and a lease that was displaced cannot release the newer holder.
public sealed class LocalSessionRegistryTests
{
    private static SessionHolder Connection(string id) => new(SessionHolder.LocalNode, id);

    /// The local registry answers before returning (no await inside), which lets plain threads race it.
    private static T Now<T>(ValueTask<T> answer)
    {
        Assert.True(answer.IsCompletedSuccessfully, "the local registry answers at once");
        return answer.Result;
    }

    [Fact]
    public async Task Claim_OfAFreeClientId_DisplacesNobody_AndIsWhatFindReturns()
    {
        var registry = new LocalSessionRegistry();

        var claim = await registry.ClaimAsync("dev", Connection("c1"));

        Assert.Null(claim.Previous);
        Assert.Equal("dev", claim.Lease.ClientId);
        Assert.Equal(Connection("c1"), claim.Lease.Holder);
        Assert.True(claim.Lease.Epoch > 0);
        Assert.Equal(claim.Lease, await registry.FindAsync("dev"));
        Assert.Null(await registry.FindAsync("other"));
    }

    [Fact]
    public async Task Claim_OfAHeldClientId_TakesItOver_WithAHigherEpoch_AndNamesTheHolderItDisplaced() // [MQTT-3.1.4-3]
    {
        var registry = new LocalSessionRegistry();
        var first = await registry.ClaimAsync("dev", Connection("c1"));

        var second = await registry.ClaimAsync("dev", Connection("c2"));

        Assert.Equal(first.Lease, second.Previous);
        Assert.True(second.Lease.Epoch > first.Lease.Epoch);
        Assert.Equal(second.Lease, await registry.FindAsync("dev"));
        Assert.Equal(1, registry.Count);
    }

    [Fact]
    public async Task Release_OfADisplacedLease_IsRefused_AndTheNewerHolderKeepsTheClientId()
    {
        var registry = new LocalSessionRegistry();
        var stale = (await registry.ClaimAsync("dev", Connection("c1"))).Lease;
        var current = (await registry.ClaimAsync("dev", Connection("c2"))).Lease;

        Assert.False(await registry.ReleaseAsync(stale));

        Assert.Equal(current, await registry.FindAsync("dev"));
        Assert.True(await registry.ReleaseAsync(current));
        Assert.Null(await registry.FindAsync("dev"));
        Assert.False(await registry.ReleaseAsync(current)); // once only
    }

    [Fact]
    public async Task AReleasedClientId_ClaimedAgain_GetsAnEpochAboveAllItHadBefore_SoOldLeasesStayStale()
    {
        var registry = new LocalSessionRegistry();
        var old = (await registry.ClaimAsync("dev", Connection("c1"))).Lease;
        var taker = (await registry.ClaimAsync("dev", Connection("c2"))).Lease;
        Assert.True(await registry.ReleaseAsync(taker));
        Assert.Equal(0, registry.Count); // nothing is kept for a released id

        // The same connection id again: only the epoch tells the claims apart.
        var again = await registry.ClaimAsync("dev", Connection("c1"));

        Assert.Null(again.Previous);
        Assert.True(again.Lease.Epoch > taker.Epoch);
        Assert.False(await registry.ReleaseAsync(old));
        Assert.False(await registry.ReleaseAsync(taker));
        Assert.Equal(again.Lease, await registry.FindAsync("dev"));
    }

    [Fact]
    public async Task ClientIds_AreHeldIndependently()
    {
        var registry = new LocalSessionRegistry();
        var a = (await registry.ClaimAsync("a", Connection("c1"))).Lease;
        var b = await registry.ClaimAsync("b", Connection("c2"));

        Assert.Null(b.Previous);
        Assert.True(await registry.ReleaseAsync(a));
        Assert.Equal(b.Lease, await registry.FindAsync("b"));
    }

    /// Many threads claim one client id at once: every claim gets its own epoch, each thread sees its epochs
    /// rise, every displaced lease is displaced exactly once and by a higher epoch, and one holder remains — the
    /// claim with the highest epoch.
    [Fact]
    public void ConcurrentClaims_OfOneClientId_GetDistinctRisingEpochs_AndLeaveExactlyTheNewestHolder()
    {
        const int threads = 8;
        const int claimsPerThread = 2_000;
        var registry = new LocalSessionRegistry();
        var claims = new SessionClaim[threads][];
        using var start = new Barrier(threads);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            var mine = claims[t] = new SessionClaim[claimsPerThread];
            start.SignalAndWait();
            for (var i = 0; i < claimsPerThread; i++)
                mine[i] = Now(registry.ClaimAsync("dev", Connection($"t{t}")));
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());

        var all = claims.SelectMany(c => c).ToList();
        Assert.Equal(threads * claimsPerThread, all.Select(c => c.Lease.Epoch).Distinct().Count());
        foreach (var mine in claims)
            Assert.True(mine.Zip(mine.Skip(1)).All(p => p.First.Lease.Epoch < p.Second.Lease.Epoch), "a thread's epochs must rise");
        Assert.All(all.Where(c => c.Previous is not null), c => Assert.True(c.Previous!.Value.Epoch < c.Lease.Epoch));
        var displaced = all.Where(c => c.Previous is not null).Select(c => c.Previous!.Value.Epoch).ToList();
        Assert.Equal(displaced.Count, displaced.Distinct().Count()); // nobody is displaced twice: one holder at a time
        Assert.Single(all, c => c.Previous is null); // only the first claim found the id free
        Assert.Equal(all.Count - 1, displaced.Count); // every lease but the newest was displaced

        var newest = all.MaxBy(c => c.Lease.Epoch).Lease;
        Assert.Equal(newest, Now(registry.FindAsync("dev")));
        Assert.Equal(1, registry.Count);
    }

    /// Threads claim one client id and release what they claimed, racing each other: every lease ends exactly
    /// one way — displaced by a newer claim, or released by its holder — never both, so a late release never
    /// removes a newer holder; at the end nobody holds the id.
    [Fact]
    public void ConcurrentClaimsAndReleases_EndEveryLeaseExactlyOnce()
    {
        const int threads = 8;
        const int claimsPerThread = 2_000;
        var registry = new LocalSessionRegistry();
        var outcomes = new List<(SessionClaim Claim, bool Released)>[threads];
        using var start = new Barrier(threads);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            var mine = outcomes[t] = new(claimsPerThread);
            start.SignalAndWait();
            for (var i = 0; i < claimsPerThread; i++)
            {
                var claim = Now(registry.ClaimAsync("dev", Connection($"t{t}")));
                if (i % 3 == 0)
                    Thread.Yield(); // hold it a moment now and then, so that some claims land on a held id
                mine.Add((claim, Now(registry.ReleaseAsync(claim.Lease))));
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());

        var all = outcomes.SelectMany(o => o).ToList();
        var displaced = all.Where(o => o.Claim.Previous is not null).Select(o => o.Claim.Previous!.Value.Epoch).ToHashSet();
        var released = all.Where(o => o.Released).Select(o => o.Claim.Lease.Epoch).ToHashSet();
        Assert.Empty(displaced.Intersect(released));
        Assert.Equal(all.Count, displaced.Count + released.Count);
        Assert.Equal(0, registry.Count);
        Assert.Null(Now(registry.FindAsync("dev")));
    }
}
