using System.Globalization;
using Kirisame.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Kirisame.Interop.Tests.Tenants;

/// Two tenants, "a" and "b", on one server (issue 18, item 1): each has a user "u" with its own password, and nothing
/// one tenant's clients do reaches the other's — publish, `#`, shared subscriptions, retained messages, wills, client
/// ids and $SYS (the default tenant's alone has every tenant's figures). A message that must not arrive is checked after a PINGREQ/PINGRESP round trip on the client that
/// must not get it: the broker answers on the same ordered connection, so anything routed to it before has arrived.
public sealed class TenantIsolationTests : IAsyncLifetime, IDisposable
{
    private readonly TenantFiles _files = new();
    private KirisameProcess? _server;

    private KirisameProcess Server => _server!;

    public async Task InitializeAsync()
    {
        var a = await _files.PasswordFileAsync("a.passwd", ("u", "secret-a"));
        var b = await _files.PasswordFileAsync("b.passwd", ("u", "secret-b"));
        _files.WriteTenants(new Dictionary<string, object>
        {
            ["a"] = new { PasswordFile = a },
            ["b"] = new { PasswordFile = b },
        });
        _server = await KirisameProcess.StartAsync(["--Tenants:File", _files.TenantsFile, "--Broker:SysInterval", "1",
            "--Security:FailedLoginDelay", "00:00:00.1", "--Security:MaxFailedLogins", "0"]);
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
            await _server.DisposeAsync();
    }

    public void Dispose() => _files.Dispose(); // after DisposeAsync: the server has stopped using the files

    private static string? Last(MqttNetClient client) => client.Messages is [.., var last] ? last.Payload : null;

    private Task<MqttNetClient> ConnectAsync(string tenant, string? clientId = null, Action<MqttClientOptionsBuilder>? configure = null) =>
        MqttNetClient.ConnectAsync(Server.Port, MqttProtocolVersion.V500, clientId, o =>
        {
            o.WithCredentials($"{tenant}:u", $"secret-{tenant}");
            configure?.Invoke(o);
        });

    /// Nothing more arrived at <paramref name="client"/> than it has: anything routed to it came before the PINGRESP.
    private static async Task AssertNothingMoreAsync(MqttNetClient client, int expected = 0)
    {
        await client.PingAsync();
        Assert.Equal(expected, client.Messages.Count);
    }

    [Fact]
    public async Task Publish_ReachesOnlyTheTenantsOwnSubscribers_EvenWithHash()
    {
        await using var subA = await ConnectAsync("a");
        await using var subB = await ConnectAsync("b");
        await using var subDefault = await MqttNetClient.ConnectAsync(Server.Port, MqttProtocolVersion.V500);
        await subA.SubscribeAsync("#", MqttQualityOfServiceLevel.AtLeastOnce);
        await subB.SubscribeAsync("#", MqttQualityOfServiceLevel.AtLeastOnce);
        await subDefault.SubscribeAsync("#", MqttQualityOfServiceLevel.AtLeastOnce);

        await using var pubA = await ConnectAsync("a");
        await pubA.PublishAsync("sensors/1", "from-a", MqttQualityOfServiceLevel.AtLeastOnce);
        var received = Assert.Single(await subA.WaitForMessagesAsync(1));
        Assert.Equal(("sensors/1", "from-a"), (received.Topic, received.Payload));
        await AssertNothingMoreAsync(subB);
        await AssertNothingMoreAsync(subDefault);
    }

    [Fact]
    public async Task SharedSubscription_GroupsOfTheSameNameInTwoTenants_AreTwoGroups()
    {
        await using var memberA = await ConnectAsync("a");
        await using var memberB = await ConnectAsync("b");
        await memberA.SubscribeAsync("$share/workers/jobs", MqttQualityOfServiceLevel.AtLeastOnce);
        await memberB.SubscribeAsync("$share/workers/jobs", MqttQualityOfServiceLevel.AtLeastOnce);

        // One group across tenants would share these four between the two members; each tenant's group has one.
        await using var pubA = await ConnectAsync("a");
        for (var i = 0; i < 4; i++)
            await pubA.PublishAsync("jobs", $"job-{i}", MqttQualityOfServiceLevel.AtLeastOnce);
        await memberA.WaitForMessagesAsync(4);
        await AssertNothingMoreAsync(memberB);
    }

    [Fact]
    public async Task RetainedMessages_AreKeptPerTenant()
    {
        await using (var pubA = await ConnectAsync("a"))
            await pubA.PublishAsync("config", "a-config", MqttQualityOfServiceLevel.AtLeastOnce, retain: true);
        await using (var pubB = await ConnectAsync("b"))
            await pubB.PublishAsync("config", "b-config", MqttQualityOfServiceLevel.AtLeastOnce, retain: true);

        await using var readerA = await ConnectAsync("a");
        await readerA.SubscribeAsync("#", MqttQualityOfServiceLevel.AtLeastOnce);
        var retained = Assert.Single(await readerA.WaitForMessagesAsync(1));
        Assert.Equal(("config", "a-config", true), (retained.Topic, retained.Payload, retained.Retain));
        await AssertNothingMoreAsync(readerA, 1);

        await using var readerDefault = await MqttNetClient.ConnectAsync(Server.Port, MqttProtocolVersion.V500);
        await readerDefault.SubscribeAsync("config", MqttQualityOfServiceLevel.AtLeastOnce);
        await AssertNothingMoreAsync(readerDefault);
    }

    [Fact]
    public async Task Will_IsPublishedInItsTenantOnly()
    {
        await using var watcherA = await ConnectAsync("a");
        await using var watcherB = await ConnectAsync("b");
        await watcherA.SubscribeAsync("status/#", MqttQualityOfServiceLevel.AtLeastOnce);
        await watcherB.SubscribeAsync("status/#", MqttQualityOfServiceLevel.AtLeastOnce);

        var dying = await ConnectAsync("a", configure: o => o.WithWillTopic("status/device").WithWillPayload("gone")
            .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce));
        dying.Drop(); // no DISCONNECT: the will is published

        var will = Assert.Single(await watcherA.WaitForMessagesAsync(1));
        Assert.Equal(("status/device", "gone"), (will.Topic, will.Payload));
        await AssertNothingMoreAsync(watcherB);
    }

    [Fact]
    public async Task SameClientId_InTwoTenants_IsTwoSessions_NoTakeover()
    {
        var clientId = Unique.ClientId("c1");
        await using var inA = await ConnectAsync("a", clientId, o => o.WithCleanStart(false).WithSessionExpiryInterval(300));
        await inA.SubscribeAsync("only-a", MqttQualityOfServiceLevel.AtLeastOnce);

        // The same id in tenant b: a new session (nothing present), and tenant a's client stays connected.
        await using var inB = await ConnectAsync("b", clientId, o => o.WithCleanStart(false).WithSessionExpiryInterval(300));
        Assert.False(inB.ConnectResult!.IsSessionPresent);
        await inA.PingAsync();
        Assert.False(inA.Disconnected.IsCompleted);

        // Within tenant a the id is taken over as usual (0x8E), and the session continues.
        await using var againA = await ConnectAsync("a", clientId, o => o.WithCleanStart(false).WithSessionExpiryInterval(300));
        Assert.True(againA.ConnectResult!.IsSessionPresent);
        var takenOver = await Poll.WithTimeout(inA.Disconnected, MqttNetClient.Timeout, "the takeover in tenant a");
        Assert.Equal(MqttClientDisconnectReason.SessionTakenOver, takenOver.Reason);
        await inB.PingAsync();
        Assert.False(inB.Disconnected.IsCompleted);
    }

    [Fact]
    public async Task Sys_CountsEachTenantsOwnClients()
    {
        // Tenant a: this watcher and two more clients; tenant b: its watcher alone.
        await using var watcherA = await ConnectAsync("a");
        await using var extra1 = await ConnectAsync("a");
        await using var extra2 = await ConnectAsync("a");
        await using var watcherB = await ConnectAsync("b");
        await watcherA.SubscribeAsync("$SYS/broker/clients/connected", MqttQualityOfServiceLevel.AtMostOnce);
        await watcherB.SubscribeAsync("$SYS/broker/clients/connected", MqttQualityOfServiceLevel.AtMostOnce);

        // Published once a second (SysInterval 1): wait for the figure after everyone connected.
        Assert.True(await Poll.UntilAsync(() => Last(watcherA) == "3", TimeSpan.FromSeconds(15)),
            $"tenant a's $SYS said {string.Join(", ", watcherA.Messages.Select(m => m.Payload))}");
        Assert.True(await Poll.UntilAsync(() => Last(watcherB) == "1", TimeSpan.FromSeconds(15)),
            $"tenant b's $SYS said {string.Join(", ", watcherB.Messages.Select(m => m.Payload))}");
        // Never a's three on top (a figure retained from before b's watcher connected may be lower).
        Assert.All(watcherB.Messages, m => Assert.True(int.Parse(m.Payload, CultureInfo.InvariantCulture) <= 1, m.Payload));
    }

    /// The last value <paramref name="client"/> received on <paramref name="topic"/>, or null.
    private static string? Last(MqttNetClient client, string topic) => client.Messages.LastOrDefault(m => m.Topic == topic)?.Payload;

    /// The operator's view (docs/adr/0021-tenants.md): the default tenant's $SYS has every tenant's figures, a tenant's
    /// own $SYS none of them, and a removed tenant's values are cleared rather than left retained.
    [Fact]
    public async Task Sys_TheDefaultTenantsHasEveryTenantsFigures_ATenantsHasNone_AndARemovedTenantsAreCleared()
    {
        var timeout = TimeSpan.FromSeconds(30);
        await using var operatorView = await MqttNetClient.ConnectAsync(Server.Port, MqttProtocolVersion.V500, Unique.ClientId("operator"));
        await operatorView.SubscribeAsync("$SYS/broker/tenants/#", MqttQualityOfServiceLevel.AtMostOnce);
        const string connectedInA = "$SYS/broker/tenants/a/clients/connected";
        Assert.True(await Poll.UntilAsync(() => Last(operatorView, connectedInA) == "0" && Last(operatorView, "$SYS/broker/tenants/count") == "3", timeout),
            $"tenant a's figures in the default tenant's $SYS: {string.Join(", ", operatorView.Messages.Select(m => $"{m.Topic}={m.Payload}"))}");
        Assert.NotNull(Last(operatorView, "$SYS/broker/tenants/default/clients/connected")); // the default tenant is one of them
        Assert.NotNull(Last(operatorView, "$SYS/broker/tenants/b/sessions/count"));

        // A client of tenant a connects: the operator sees a's count change; the client sees its own $SYS, and none of that.
        await using var inA = await ConnectAsync("a");
        await inA.SubscribeAsync("$SYS/#", MqttQualityOfServiceLevel.AtMostOnce);
        Assert.True(await Poll.UntilAsync(() => Last(operatorView, connectedInA) == "1", timeout), $"tenant a's connected count did not reach 1\n{Server.Describe()}");
        // Two publications of its own $SYS (the retained one at SUBSCRIBE, then an update): the tenants' would have come with them.
        Assert.True(await Poll.UntilAsync(() => inA.Messages.Count(m => m.Topic == "$SYS/broker/uptime") >= 2, timeout), "tenant a's own $SYS updates");
        Assert.Equal("1", Last(inA, "$SYS/broker/clients/connected"));
        Assert.DoesNotContain(inA.Messages, m => m.Topic.StartsWith("$SYS/broker/tenants/", StringComparison.Ordinal));

        // Tenant b taken out of the file: its values are cleared (an empty retained message), the count follows.
        _files.WriteTenants(new Dictionary<string, object> { ["a"] = new { PasswordFile = Path.Combine(_files.Directory, "a.passwd") } });
        Assert.True(await Poll.UntilAsync(() => Last(operatorView, "$SYS/broker/tenants/b/sessions/count") == ""
            && Last(operatorView, "$SYS/broker/tenants/count") == "2", timeout), "tenant b's $SYS values were not cleared");
        await using var later = await MqttNetClient.ConnectAsync(Server.Port, MqttProtocolVersion.V500, Unique.ClientId("later"));
        await later.SubscribeAsync("$SYS/broker/tenants/#", MqttQualityOfServiceLevel.AtMostOnce);
        Assert.True(await Poll.UntilAsync(() => Last(later, connectedInA) is not null, timeout), "the retained tenants' values for a new subscriber");
        Assert.DoesNotContain(later.Messages, m => m.Topic.StartsWith("$SYS/broker/tenants/b/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task MosquittoClients_TenantColonUser_PublishAndSubscribeInTheirTenant()
    {
        var port = Server.Port.ToString(CultureInfo.InvariantCulture);
        await using var subscriber = ExternalProcess.Start(Tools.Find("stdbuf", "/usr/bin/stdbuf"),
            ["-oL", MosquittoClients.Sub, "-h", "127.0.0.1", "-p", port, "-u", "a:u", "-P", "secret-a", "-t", "#", "-v", "-d"]);
        await MosquittoClients.WaitUntilSubscribedAsync(subscriber);
        await using var watcherB = await ConnectAsync("b");
        await watcherB.SubscribeAsync("#", MqttQualityOfServiceLevel.AtMostOnce);

        var published = await Tools.RunAsync(MosquittoClients.Pub, ["-h", "127.0.0.1", "-p", port, "-u", "a:u", "-P", "secret-a", "-t", "greeting", "-m", "hello-a"],
            MosquittoClients.DefaultTimeout);
        Assert.True(published.ExitCode == 0, published.ToString());
        Assert.NotNull(await subscriber.WaitForLineAsync(l => l == "greeting hello-a", MosquittoClients.DefaultTimeout));
        await AssertNothingMoreAsync(watcherB);

        // The user name within a tenant is checked against that tenant's password file: a's password is wrong in b.
        var wrongTenant = await Tools.RunAsync(MosquittoClients.Pub, ["-h", "127.0.0.1", "-p", port, "-u", "b:u", "-P", "secret-a", "-t", "t", "-m", "m"],
            MosquittoClients.DefaultTimeout);
        Assert.NotEqual(0, wrongTenant.ExitCode);
        // A tenant that does not exist: refused (3.1.1 return code 5, not authorized), and logged with the cause.
        var noTenant = await Tools.RunAsync(MosquittoClients.Pub, ["-h", "127.0.0.1", "-p", port, "-u", "nosuch:u", "-P", "x", "-t", "t", "-m", "m"],
            MosquittoClients.DefaultTimeout);
        Assert.NotEqual(0, noTenant.ExitCode);
        Assert.Contains("not authori", noTenant.Stderr + noTenant.Stdout, StringComparison.OrdinalIgnoreCase);
        Assert.NotNull(await Server.Process.WaitForLineAsync(l => l.Contains("no tenant 'nosuch'", StringComparison.Ordinal), MosquittoClients.DefaultTimeout));
    }
}
