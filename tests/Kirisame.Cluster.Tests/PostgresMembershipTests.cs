using System.Globalization;

namespace Kirisame.Cluster.Tests;

/// The membership kept in PostgreSQL (Cluster:Membership postgres:…): a real server started here on a free port,
/// with an empty database: the nodes create Orleans' tables themselves.
public sealed class PostgresMembershipTests
{
    [PostgresFact]
    public async Task PostgresMembership_ThreeNodesJoinAnEmptyDatabase_AndCarryMessagesAcross()
    {
        await using var postgres = await PostgresServer.StartAsync();
        // Two at once: each finds no schema, and the advisory lock lets one of them create it. The third joins after
        // (three cold nodes at once take about as long as KirisameProcess waits for a port on two busy cores).
        await using var cluster = await ClusterNodes.StartAsync(2, $"postgres:{postgres.ConnectionString}");
        await cluster.AddAsync(1);

        var prefix = Unique.Topic("postgres");
        await using var subscriber = await MqttNetClient.ConnectAsync(cluster[2].Port, MqttProtocolVersion.V500, Unique.ClientId("sub"));
        await subscriber.SubscribeAsync($"{prefix}/#", MqttQualityOfServiceLevel.AtLeastOnce);
        await Routes.WaitUntilRoutedAsync(cluster[0].Port, subscriber, prefix);
        await using (var publisher = await MqttNetClient.ConnectAsync(cluster[0].Port, MqttProtocolVersion.V500, Unique.ClientId("pub")))
            await publisher.PublishAsync($"{prefix}/m", "across", MqttQualityOfServiceLevel.AtLeastOnce);
        Assert.True(await Poll.UntilAsync(() => subscriber.Messages.Any(m => m.Payload == "across"), TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task PostgresMembership_UnreachableAtStart_ExitsWith1_SayingWhere()
    {
        var port = FreePort.GetLoopbackPort(); // nothing listens there
        var result = await KirisameProcess.RunToCompletionAsync(["--in-memory", "--cluster", "c1", "--cluster-port", FreePort.GetLoopbackPort().ToString(CultureInfo.InvariantCulture),
            "--Cluster:Membership", $"postgres:Host=127.0.0.1;Port={port};Username=kirisame;Password=secret;Timeout=3"], TimeSpan.FromSeconds(60));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"Cluster:Membership: cannot prepare the membership store in PostgreSQL at 127.0.0.1:{port}/kirisame", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", result.Stderr, StringComparison.Ordinal);
    }
}
