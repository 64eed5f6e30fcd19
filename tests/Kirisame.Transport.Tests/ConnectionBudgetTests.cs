using Kirisame.Transport.Listeners;

namespace Kirisame.Transport.Tests;

/// ConnectionBudget.Compute: descriptor limit, Transport:MaxConnections and the store's descriptors →
/// the connections admitted.
public sealed class ConnectionBudgetTests
{
    [Theory]
    // limit, store, expected maximum, expected reserve: the reserve is the store's bound plus a twentieth of
    // the limit, at least 256.
    [InlineData(20_000, 0, 19_000, 1_000)]
    [InlineData(20_000, 288, 18_712, 1_288)]
    [InlineData(1_048_576, 288, 995_860, 52_716)]
    [InlineData(4_096, 288, 3_552, 544)]
    [InlineData(400, 0, 144, 256)]
    [InlineData(800, 288, 256, 544)]
    public void Derived_IsTheLimitLessTheReserve(long limit, int store, int expected, int reserved)
    {
        var budget = ConnectionBudget.Compute(limit, configured: 0, store);

        Assert.Equal(expected, budget.MaxConnections);
        Assert.Equal(reserved, budget.Reserved);
        Assert.Equal(limit, budget.DescriptorLimit);
        Assert.False(budget.ConfiguredTooHigh);
        Assert.False(budget.LimitTooLow);
    }

    [Fact]
    public void Configured_BelowWhatTheLimitAllows_IsKept()
    {
        var budget = ConnectionBudget.Compute(20_000, configured: 100, storeDescriptors: 288);

        Assert.Equal(100, budget.MaxConnections);
        Assert.Equal(18_712, budget.Allowed);
        Assert.False(budget.ConfiguredTooHigh);
    }

    [Fact]
    public void Configured_AboveWhatTheLimitAllows_IsLowered()
    {
        var budget = ConnectionBudget.Compute(20_000, configured: 50_000, storeDescriptors: 288);

        Assert.Equal(18_712, budget.MaxConnections);
        Assert.True(budget.ConfiguredTooHigh);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(500)]
    public void UnknownLimit_LeavesTheConfiguredValue(int configured)
    {
        var budget = ConnectionBudget.Compute(null, configured, storeDescriptors: 288);

        Assert.Equal(configured, budget.MaxConnections); // 0: no limit, as before
        Assert.Null(budget.DescriptorLimit);
        Assert.False(budget.ConfiguredTooHigh);
    }

    [Theory]
    [InlineData(300, 75)]
    [InlineData(40, 10)]
    [InlineData(3, 1)]
    public void LimitBelowTheReserve_KeepsAQuarterForConnections(long limit, int expected)
    {
        var budget = ConnectionBudget.Compute(limit, configured: 0, storeDescriptors: 288);

        Assert.True(budget.LimitTooLow);
        Assert.Equal(expected, budget.MaxConnections);
    }

    [Fact]
    public void HugeLimit_IsCappedAtIntMaxValue()
    {
        var budget = ConnectionBudget.Compute(long.MaxValue / 2, configured: 0, storeDescriptors: 288);

        Assert.Equal(int.MaxValue, budget.MaxConnections);
    }

    [Fact]
    public void DescriptorLimit_IsReadOnLinux()
    {
        var limit = DescriptorLimit.Read();

        if (OperatingSystem.IsLinux())
            Assert.True(limit is null or > 0); // null only when unlimited
        else
            Assert.Null(limit);
    }
}
