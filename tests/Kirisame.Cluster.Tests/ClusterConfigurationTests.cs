namespace Kirisame.Cluster.Tests;

/// Bad cluster settings stop the server before it starts anything, with the key that is wrong (exit code 2).
public sealed class ClusterConfigurationTests
{
    [Theory]
    [InlineData(new[] { "--cluster-seeds", "127.0.0.1:11111" }, "Cluster:Seeds, Cluster:Membership and Cluster:SharedStore need Cluster:Name")]
    [InlineData(new[] { "--cluster-shared-store", "/tmp/kirisame-shared" }, "Cluster:Seeds, Cluster:Membership and Cluster:SharedStore need Cluster:Name")]
    [InlineData(new[] { "--cluster", "c1", "--cluster-seeds", "127.0.0.1:11111", "--cluster-shared-store", "/tmp/kirisame-shared" },
        "Cluster:SharedStore keeps each node's sessions in a store folder there: it cannot go with Storage:InMemory")]
    [InlineData(new[] { "--cluster", "c1" }, "Cluster:Seeds: give at least one silo endpoint")]
    [InlineData(new[] { "--cluster", "c1", "--cluster-seeds", "localhost" }, "'localhost' is not an IP address with a port")]
    [InlineData(new[] { "--cluster", "c1", "--Cluster:Membership", "mysql:Host=db;Password=secret" }, "Cluster:Membership must start with \"redis:\"")]
    [InlineData(new[] { "--cluster", "c1", "--Cluster:Membership", "postgres:Hots=db;Password=secret" }, "Cluster:Membership: the PostgreSQL connection string is not valid")]
    [InlineData(new[] { "--cluster", "c1", "--Cluster:Membership", "postgres:Password=secret" }, "Cluster:Membership: the PostgreSQL connection string names no Host")]
    [InlineData(new[] { "--cluster", "c 1", "--cluster-seeds", "127.0.0.1:11111" }, "Cluster:Name may hold letters")]
    public async Task BadClusterSettings_ExitWith2_NamingTheKey(string[] arguments, string expected)
    {
        var result = await KirisameProcess.RunToCompletionAsync(["--in-memory", .. arguments], TimeSpan.FromSeconds(30));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", result.Stderr, StringComparison.Ordinal); // a membership configuration may hold a password
    }
}
