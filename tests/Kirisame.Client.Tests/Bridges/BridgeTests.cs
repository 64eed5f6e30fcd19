using System.Text;
using Kirisame.Client;
using Kirisame.Protocol;
using Kirisame.Testing;
using static Kirisame.Client.Tests.Bridges.BridgeFixture;

namespace Kirisame.Client.Tests.Bridges;

/// Bridges of the real kirisame process: to Debian's mosquitto and to another kirisame, both ways, with prefixes,
/// failover, queueing while the remote is away (across a restart), TLS, and bad configuration.
public sealed class BridgeTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("kirisame-bridge-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static object Bridge(string[] addresses, object[] topics, string clientId, string version = "3.1.1", object? extra = null)
    {
        var bridge = new Dictionary<string, object?>
        {
            ["Addresses"] = addresses,
            ["ProtocolVersion"] = version,
            ["ClientId"] = clientId,
            ["RestartTimeoutBase"] = 0.2,
            ["RestartTimeoutCap"] = 1,
            ["KeepAlive"] = 5,
            ["Topics"] = topics,
        };
        foreach (var property in extra?.GetType().GetProperties() ?? [])
            bridge[property.Name] = property.GetValue(extra);
        return bridge;
    }

    private static object Rule(string pattern, string direction, int qos = 1, string local = "", string remote = "") =>
        new { Pattern = pattern, Direction = direction, QoS = qos, LocalPrefix = local, RemotePrefix = remote };

    private static string Text(MqttMessage m) => Encoding.UTF8.GetString(m.Payload.Span);

    [Theory]
    [InlineData("3.1.1")]
    [InlineData("5")]
    public async Task ToMosquitto_BothWaysWithPrefixes(string version)
    {
        await using var mosquitto = await MosquittoProcess.StartAsync();
        var configuration = WriteConfiguration(_directory, "cloud", Bridge([$"mqtt://127.0.0.1:{mosquitto.Port}"],
            [Rule("sensors/#", "out", 1, "site/", "cloud/site1/"), Rule("cmd/#", "in", 1, "site/", "cloud/site1/")], "k1.cloud", version));
        await using var kirisame = await StartAsync(configuration);
        await WaitConnectedAsync(kirisame.Port, "$SYS/broker/connection/k1.cloud/state", kirisame);
        await using var remoteSubscriber = await ConnectAsync(mosquitto.Port, ProtocolVersion.V311);
        await remoteSubscriber.SubscribeAsync("cloud/#", QualityOfService.AtLeastOnce);
        await using var local = await ConnectAsync(kirisame.Port);
        await local.SubscribeAsync("site/cmd/#", QualityOfService.AtLeastOnce);

        await local.PublishAsync("site/sensors/t1", "21.5"u8.ToArray(), QualityOfService.AtLeastOnce);
        var outbound = await NextAsync(remoteSubscriber, "site/sensors/t1 at mosquitto");
        var published = await MosquittoClients.PublishAsync(mosquitto.Port, "cloud/site1/cmd/reboot", "now", qos: 1);
        var inbound = await NextAsync(local, "cloud/site1/cmd/reboot at kirisame");

        Assert.Equal(("cloud/site1/sensors/t1", "21.5", QualityOfService.AtLeastOnce), (outbound.Topic, Text(outbound), outbound.QoS));
        Assert.Equal(0, published.ExitCode);
        Assert.Equal(("site/cmd/reboot", "now", QualityOfService.AtLeastOnce), (inbound.Topic, Text(inbound), inbound.QoS));
    }

    [Theory]
    [InlineData("5", "kirisame")]
    [InlineData("3.1.1", "mosquitto")]
    [InlineData("3.1.1", "kirisame")] // Kirisame as the remote honours Mosquitto's bridge flag
    public async Task BothOnOneTopic_ForwardsEachMessageOnceAndDoesNotLoop(string version, string remoteBroker)
    {
        await using var remote = remoteBroker == "kirisame" ? (IBrokerProcess)await KirisameProcess.StartAsync() : await MosquittoProcess.StartAsync();
        var configuration = WriteConfiguration(_directory, "loop", Bridge([$"127.0.0.1:{remote.Port}"], [Rule("loop/#", "both")], "k1.loop", version));
        await using var kirisame = await StartAsync(configuration);
        await WaitConnectedAsync(kirisame.Port, "$SYS/broker/connection/k1.loop/state", kirisame);
        await using var atLocal = await ConnectAsync(kirisame.Port);
        await using var atRemote = await ConnectAsync(remote.Port, ProtocolVersion.V311);
        await atLocal.SubscribeAsync("loop/#", QualityOfService.AtLeastOnce);
        await atRemote.SubscribeAsync("loop/#", QualityOfService.AtLeastOnce);

        await atLocal.PublishAsync("loop/a", "from local"u8.ToArray(), QualityOfService.AtLeastOnce);
        Assert.Equal("loop/a", (await NextAsync(atRemote, "loop/a at the remote")).Topic);
        await atRemote.PublishAsync("loop/b", "from remote"u8.ToArray(), QualityOfService.AtLeastOnce);
        Assert.Equal("loop/b", (await NextAsync(atRemote, "loop/b at the remote")).Topic);
        // An end marker from each side: an echo of loop/a or loop/b would arrive before it on the same path.
        await atLocal.PublishAsync("loop/end-local", "x"u8.ToArray(), QualityOfService.AtLeastOnce);
        await atRemote.PublishAsync("loop/end-remote", "x"u8.ToArray(), QualityOfService.AtLeastOnce);

        var local = await Drain(atLocal, 4);
        var remoteSeen = await Drain(atRemote, 2);
        Assert.Equal(["loop/a", "loop/b", "loop/end-local", "loop/end-remote"], local.Order());
        Assert.Equal(["loop/end-local", "loop/end-remote"], remoteSeen.Order());
    }

    private static async Task<List<string>> Drain(MqttClient client, int count)
    {
        var topics = new List<string>();
        for (var i = 0; i < count; i++)
            topics.Add((await NextAsync(client, $"message {i + 1} of {count}")).Topic);
        Assert.False(client.Messages.TryRead(out var extra), $"one more than expected: {extra?.Topic}");
        return topics;
    }

    [Fact]
    public async Task KirisameToKirisame_V311_FailsOverToTheSecondAddress()
    {
        await using var remote = await KirisameProcess.StartAsync();
        var dead = FreePort.GetLoopbackPort();
        var configuration = WriteConfiguration(_directory, "fo", Bridge([$"mqtt://127.0.0.1:{dead}", $"mqtt://127.0.0.1:{remote.Port}"],
            [Rule("up/#", "out", 1, "", "edge/"), Rule("down/#", "in", 1, "edge/", "")], "k1.fo"));
        await using var kirisame = await StartAsync(configuration);
        await WaitConnectedAsync(kirisame.Port, "$SYS/broker/connection/k1.fo/state", kirisame);
        await using var atRemote = await ConnectAsync(remote.Port, ProtocolVersion.V311);
        await atRemote.SubscribeAsync("edge/#", QualityOfService.AtLeastOnce);
        await using var atLocal = await ConnectAsync(kirisame.Port, ProtocolVersion.V311);
        await atLocal.SubscribeAsync("edge/#", QualityOfService.AtLeastOnce);

        await atLocal.PublishAsync("up/1", "u"u8.ToArray(), QualityOfService.AtLeastOnce);
        var up = await NextAsync(atRemote, "up/1 at the remote as edge/up/1");
        await atRemote.PublishAsync("down/1", "d"u8.ToArray(), QualityOfService.AtLeastOnce);
        var down = await NextAsync(atLocal, "down/1 at kirisame as edge/down/1");

        Assert.Equal("edge/up/1", up.Topic);
        Assert.Equal("edge/down/1", down.Topic);
        Assert.NotNull(await kirisame.Process.WaitForLineAsync(l => l.Contains($"cannot connect to mqtt://127.0.0.1:{dead}", StringComparison.Ordinal), WaitLimit));
        Assert.NotNull(await kirisame.Process.WaitForLineAsync(l => l.Contains($"connected to mqtt://127.0.0.1:{remote.Port}", StringComparison.Ordinal), WaitLimit));
    }

    [Fact]
    public async Task RemoteDown_MessagesQueueDurably_AcrossARestart_AndAreAllDeliveredWhenItIsBack()
    {
        var remotePort = FreePort.GetLoopbackPort();
        var persistence = Directory.CreateDirectory(Path.Combine(_directory, "mosquitto")).FullName + "/";
        // As root, mosquitto would run as the user "mosquitto", who cannot write into the test's folder.
        string[] mosquittoLines = ["user root", "persistence true", $"persistence_location {persistence}", "autosave_interval 1"];
        // A persistent subscriber at the remote, so what the bridge forwards later is kept for it.
        await using (var first = await MosquittoProcess.StartAsync(mosquittoLines, remotePort))
        {
            await using var subscriber = await ConnectAsync(remotePort, ProtocolVersion.V311, "remote-subscriber", persistent: true);
            await subscriber.SubscribeAsync("q/#", QualityOfService.AtLeastOnce);
            await subscriber.DisconnectAsync();
            first.Process.Terminate(); // saves its state
            Assert.True(await first.Process.WaitForExitAsync(WaitLimit));
        }

        var data = Path.Combine(_directory, "data");
        var configuration = WriteConfiguration(_directory, "q", Bridge([$"127.0.0.1:{remotePort}"], [Rule("q/#", "out")], "k1.q"));
        await using (var before = await StartAsync(configuration, "--data-dir", data))
        {
            await WaitStateAsync(before.Port, "$SYS/broker/connection/k1.q/state", before, "0");
            await using var publisher = await ConnectAsync(before.Port);
            for (var i = 0; i < 20; i++)
                Assert.Equal(ReasonCode.Success, await publisher.PublishAsync($"q/{i}", Encoding.UTF8.GetBytes($"m{i}"), QualityOfService.AtLeastOnce));
            before.Process.Terminate();
            Assert.True(await before.Process.WaitForExitAsync(WaitLimit));
        }

        await using var after = await StartAsync(configuration, "--data-dir", data);
        await using var remote = await MosquittoProcess.StartAsync(mosquittoLines, remotePort);
        await WaitConnectedAsync(after.Port, "$SYS/broker/connection/k1.q/state", after);
        await using var back = await ConnectAsync(remotePort, ProtocolVersion.V311, "remote-subscriber", persistent: true);

        var received = new List<string>();
        for (var i = 0; i < 20; i++)
            received.Add(Text(await NextAsync(back, $"queued message {i}")));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"m{i}"), received);
    }

    [Fact]
    public async Task Tls_ToMosquittoWithItsCa()
    {
        using var certificates = new TestCertificates();
        var tlsPort = FreePort.GetLoopbackPort();
        await using var mosquitto = await MosquittoProcess.StartAsync(
        [
            "user root", $"listener {tlsPort} 127.0.0.1", "allow_anonymous true",
            $"cafile {certificates.CaFile}", $"certfile {certificates.ServerCertificate}", $"keyfile {certificates.ServerKey}",
        ]);
        Assert.True(await FreePort.WaitUntilAcceptingAsync(tlsPort, WaitLimit));
        var configuration = WriteConfiguration(_directory, "tls", Bridge([$"mqtts://localhost:{tlsPort}"], [Rule("secure/#", "out")], "k1.tls",
            extra: new { CaFile = certificates.CaFile }));
        await using var kirisame = await StartAsync(configuration);
        await WaitConnectedAsync(kirisame.Port, "$SYS/broker/connection/k1.tls/state", kirisame);
        await using var atRemote = await ConnectAsync(mosquitto.Port, ProtocolVersion.V311);
        await atRemote.SubscribeAsync("secure/#", QualityOfService.AtLeastOnce);
        await using var atLocal = await ConnectAsync(kirisame.Port);

        await atLocal.PublishAsync("secure/1", "over tls"u8.ToArray(), QualityOfService.AtLeastOnce);

        Assert.Equal("over tls", Text(await NextAsync(atRemote, "secure/1 at mosquitto")));
    }

    /// A client of tenant <paramref name="tenant"/> (`tenant:user`, anonymous in the tenant), or of the default tenant.
    private static Task<MqttClient> ConnectInAsync(int port, string? tenant) =>
        MqttClient.ConnectAsync(new MqttClientOptions
        {
            Server = MqttServerAddress.Parse($"127.0.0.1:{port}"),
            ClientId = "t-" + Guid.NewGuid().ToString("N")[..12],
            UserName = tenant is null ? null : tenant + ":device",
        });

    /// Reads messages until one with <paramref name="payload"/>; the ones before it.
    private static async Task<List<MqttMessage>> UntilAsync(MqttClient client, string payload, string what)
    {
        var before = new List<MqttMessage>();
        for (var message = await NextAsync(client, what); Text(message) != payload; message = await NextAsync(client, what))
            before.Add(message);
        return before;
    }

    [Fact]
    public async Task InATenant_ForwardsThatTenantsMessagesOnly_BothWays()
    {
        await using var mosquitto = await MosquittoProcess.StartAsync();
        var tenants = Path.Combine(_directory, "tenants.json");
        await File.WriteAllTextAsync(tenants, """{ "Tenants": { "acme": { "AllowAnonymous": true } } }""");
        var configuration = WriteConfiguration(_directory, "cloud", Bridge([$"mqtt://127.0.0.1:{mosquitto.Port}"],
            [Rule("sensors/#", "out", 1, "", "acme/"), Rule("cmd/#", "in", 1, "", "acme/")], "k1.acme", "5", new { Tenant = "acme" }));
        await using var kirisame = await StartAsync(configuration, "--Tenants:File", tenants);

        // The bridge's notification is in the tenant's $SYS.
        await using (var watcher = await ConnectInAsync(kirisame.Port, "acme"))
        {
            await watcher.SubscribeAsync("$SYS/broker/connection/k1.acme/state");
            while (Text(await NextAsync(watcher, "the bridge's state in tenant acme")) != "1")
            {
            }
        }

        await using var remote = await ConnectAsync(mosquitto.Port, ProtocolVersion.V311);
        await remote.SubscribeAsync("acme/#", QualityOfService.AtLeastOnce);
        await using var inAcme = await ConnectInAsync(kirisame.Port, "acme");
        await using var inDefault = await ConnectInAsync(kirisame.Port, null);
        await inAcme.SubscribeAsync("cmd/#", QualityOfService.AtLeastOnce);
        await inDefault.SubscribeAsync("cmd/#", QualityOfService.AtLeastOnce);

        // Out: the tenant's sensors/# only; the default tenant's sensors/d is not the bridge's.
        await inDefault.PublishAsync("sensors/d", "from default"u8.ToArray(), QualityOfService.AtLeastOnce);
        await inAcme.PublishAsync("sensors/a", "from acme"u8.ToArray(), QualityOfService.AtLeastOnce);
        await inAcme.PublishAsync("sensors/a", "end"u8.ToArray(), QualityOfService.AtLeastOnce);
        var outbound = await UntilAsync(remote, "end", "acme's sensors/a at mosquitto");
        Assert.Equal([("acme/sensors/a", "from acme")], outbound.Select(m => (m.Topic, Text(m))));

        // In: into the tenant's core only.
        Assert.Equal(0, (await MosquittoClients.PublishAsync(mosquitto.Port, "acme/cmd/reboot", "now", qos: 1)).ExitCode);
        var inbound = await NextAsync(inAcme, "acme/cmd/reboot in tenant acme");
        Assert.Equal(("cmd/reboot", "now"), (inbound.Topic, Text(inbound)));
        await inDefault.PublishAsync("cmd/probe", "default's own"u8.ToArray(), QualityOfService.AtLeastOnce);
        Assert.Empty(await UntilAsync(inDefault, "default's own", "the default tenant's own cmd/probe"));
    }

    [Fact]
    public async Task Tenant_WithoutTenantsEnabled_ExitsWith2NamingTheKey()
    {
        var result = await KirisameProcess.RunToCompletionAsync(["serve", "--in-memory", "--port", "0", "--Bridges:b:Addresses:0", "mqtt://127.0.0.1:1",
            "--Bridges:b:Topics:0:Pattern", "x/#", "--Bridges:b:Tenant", "acme"], WaitLimit);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Bridges:b:Tenant: tenants are not enabled", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Bridges:b:Topics:0:Pattern", "x/#", "Bridges:b:Addresses")]
    [InlineData("--Bridges:b:Addresses:0", "http://h", "Bridges:b:Addresses:0")]
    public async Task BadConfiguration_ExitsWith2NamingTheKey(string key, string value, string named)
    {
        var result = await KirisameProcess.RunToCompletionAsync(["serve", "--in-memory", "--port", "0", key, value], WaitLimit);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(named, result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadDirection_ExitsWith2NamingTheKey()
    {
        var result = await KirisameProcess.RunToCompletionAsync(["serve", "--in-memory", "--port", "0",
            "--Bridges:b:Addresses:0", "mqtt://127.0.0.1:1", "--Bridges:b:Topics:0:Pattern", "x/#", "--Bridges:b:Topics:0:Direction", "sideways"], WaitLimit);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Bridges:b:Topics:0:Direction must be out, in or both (was 'sideways')", result.Stderr, StringComparison.Ordinal);
    }
}
