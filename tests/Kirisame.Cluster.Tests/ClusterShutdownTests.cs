namespace Kirisame.Cluster.Tests;

/// A node stopping (SIGTERM) releases its clients' ids to the registry's partitions; some of those may be on a node that
/// does not answer — stopping too (a whole cluster stopped at once) or stalled.
public sealed class ClusterShutdownTests
{
    private static readonly TimeSpan s_stopLimit = TimeSpan.FromSeconds(25);

    [Fact]
    public async Task NodeStopping_WhileAnotherIsFrozen_StopsPromptly_WithoutAFailedCleanUpPerClient()
    {
        await using var cluster = await ClusterNodes.StartAsync(3);
        var clients = new List<MqttNetClient>();
        var frozen = cluster[2].Process.Process;
        try
        {
            // Ids hash over 64 registry partitions spread over the three nodes: some of these are on the frozen one.
            for (var i = 0; i < 30; i++)
            {
                clients.Add(await MqttNetClient.ConnectAsync(cluster[1].Port, MqttProtocolVersion.V500, Unique.ClientId("stop"),
                    o => o.WithCleanStart(false).WithSessionExpiryInterval(3600)));
            }

            // A node that does not answer (SIGSTOP: a stalled machine) while another stops: the stopping node's clients
            // release their ids, some to partitions on the frozen node.
            frozen.Signal("STOP");
            var stopping = cluster[1].Process;
            stopping.Process.Terminate();
            Assert.True(await stopping.Process.WaitForExitAsync(s_stopLimit), $"not stopped within {s_stopLimit}\n{stopping.Describe()}");
            // Before: each such release failed after Orleans' response timeout and logged "clean-up failed", once per client.
            Assert.DoesNotContain("clean-up failed", stopping.Describe(), StringComparison.Ordinal);
        }
        finally
        {
            frozen.Signal("CONT");
            foreach (var client in clients)
                await client.DisposeAsync();
        }
    }
}
