using System.Net;
using System.Text.Json;
using Kirisame.Testing;

namespace Kirisame.Interop.Tests.Management;

/// What an operator changes without a restart through the API, checked with real clients: users of the MQTT
/// password file (mosquitto_pub logs in with them), ACL files re-read on demand, bans after failed logins, log
/// levels; and the listeners. Each test starts its own server: they change its security state.
public sealed class OperationsApiTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private sealed class Files : IDisposable
    {
        public DirectoryInfo Directory { get; } = System.IO.Directory.CreateTempSubdirectory("kirisame-ops-");

        public string Passwords => Path.Combine(Directory.FullName, "passwd");

        public string Acl => Path.Combine(Directory.FullName, "acl");

        public void Dispose() => Directory.Delete(recursive: true);
    }

    /// A password file with one user (seed), made by the real `kirisame passwd`.
    private static async Task<Files> MakeFilesAsync(string? acl = null)
    {
        var files = new Files();
        var made = await KirisameProcess.RunToCompletionAsync(["passwd", "-b", "--iterations", "1000", files.Passwords, "seed", "seed-secret"], Deadline);
        Assert.True(made.ExitCode == 0, made.ToString());
        if (acl is not null)
            await File.WriteAllTextAsync(files.Acl, acl);
        return files;
    }

    private static Task<ToolResult> PublishAsUserAsync(int port, string user, string password, string topic = "ops/t") =>
        MosquittoClients.PublishAsync(port, topic, "x", qos: 1, extra: ["-u", user, "-P", password]);

    private static async Task UntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"never: {what}");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Users_AddedThroughTheApi_LogIn_ChangedPasswordsAndDeletedUsersNoLonger()
    {
        using var files = await MakeFilesAsync();
        await using var broker = await ManagedBroker.StartAsync(withCredentials: true, "--Security:PasswordFile", files.Passwords,
            "--Security:FailedLoginDelay", "00:00:00", "--Security:MaxFailedLogins", "0");
        var port = broker.MqttPort;

        // A viewer may not add users, and bad input changes nothing.
        Assert.Equal(HttpStatusCode.Forbidden, (await broker.SendAsync(HttpMethod.Post, "/api/v1/security/users", new { userName = "dave", password = "pw-1" }, Caller.Viewer)).Status);
        var empty = await broker.SendAsync(HttpMethod.Post, "/api/v1/security/users", new { userName = "dave", password = "" });
        Assert.Equal(HttpStatusCode.BadRequest, empty.Status);
        Assert.Equal("application/problem+json", empty.ContentType);
        Assert.Equal(HttpStatusCode.BadRequest, (await broker.SendAsync(HttpMethod.Post, "/api/v1/security/users", new { userName = "a:b", password = "x" })).Status);
        Assert.Equal(["seed"], (await broker.GetJsonAsync("/api/v1/security/users")).EnumerateArray().Select(u => u.GetString()));

        Assert.Equal(HttpStatusCode.Created, (await broker.SendAsync(HttpMethod.Post, "/api/v1/security/users", new { userName = "dave", password = "pw-1" })).Status);
        Assert.Equal(["dave", "seed"], (await broker.GetJsonAsync("/api/v1/security/users")).EnumerateArray().Select(u => u.GetString()));
        await UntilAsync(async () => (await PublishAsUserAsync(port, "dave", "pw-1")).ExitCode == 0, "dave logs in");

        Assert.Equal(HttpStatusCode.NoContent, (await broker.SendAsync(HttpMethod.Put, "/api/v1/security/users/dave/password", new { password = "pw-2" })).Status);
        await UntilAsync(async () => (await PublishAsUserAsync(port, "dave", "pw-1")).ExitCode != 0, "the old password is refused");
        Assert.Equal(0, (await PublishAsUserAsync(port, "dave", "pw-2")).ExitCode);
        Assert.Equal(HttpStatusCode.NotFound, (await broker.SendAsync(HttpMethod.Put, "/api/v1/security/users/nobody/password", new { password = "x" })).Status);

        Assert.Equal(HttpStatusCode.NoContent, (await broker.SendAsync(HttpMethod.Delete, "/api/v1/security/users/dave")).Status);
        await UntilAsync(async () => (await PublishAsUserAsync(port, "dave", "pw-2")).ExitCode != 0, "a deleted user is refused");
        Assert.Equal(0, (await PublishAsUserAsync(port, "seed", "seed-secret")).ExitCode);
        Assert.Equal(HttpStatusCode.NotFound, (await broker.SendAsync(HttpMethod.Delete, "/api/v1/security/users/dave")).Status);
    }

    [Fact]
    public async Task AnAddressBannedAfterFailedLogins_IsListed_AndLogsInOnceTheBanIsLifted()
    {
        using var files = await MakeFilesAsync();
        await using var broker = await ManagedBroker.StartAsync(withCredentials: true, "--Security:PasswordFile", files.Passwords,
            "--Security:FailedLoginDelay", "00:00:00", "--Security:MaxFailedLogins", "2", "--Security:BanDuration", "01:00:00");
        var port = broker.MqttPort;
        Assert.Empty((await broker.GetJsonAsync("/api/v1/security/bans", Caller.Viewer)).EnumerateArray());

        for (var i = 0; i < 2; i++)
            Assert.NotEqual(0, (await PublishAsUserAsync(port, "seed", "wrong")).ExitCode);
        var refused = await PublishAsUserAsync(port, "seed", "seed-secret");
        Assert.True(refused.ExitCode != 0, "the right password from a banned address is refused: " + refused);

        var bans = (await broker.GetJsonAsync("/api/v1/security/bans", Caller.Viewer)).EnumerateArray().ToList();
        var ban = Assert.Single(bans);
        Assert.Equal("127.0.0.1", ban.GetProperty("address").GetString());
        Assert.True(ban.GetProperty("until").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(50));

        Assert.Equal(HttpStatusCode.Forbidden, (await broker.SendAsync(HttpMethod.Delete, "/api/v1/security/bans/127.0.0.1", caller: Caller.Viewer)).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await broker.SendAsync(HttpMethod.Delete, "/api/v1/security/bans/not-an-address")).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await broker.SendAsync(HttpMethod.Delete, "/api/v1/security/bans/127.0.0.1")).Status);
        Assert.Empty((await broker.GetJsonAsync("/api/v1/security/bans")).EnumerateArray());
        Assert.Equal(0, (await PublishAsUserAsync(port, "seed", "seed-secret")).ExitCode);
        Assert.Equal(HttpStatusCode.NotFound, (await broker.SendAsync(HttpMethod.Delete, "/api/v1/security/bans/127.0.0.1")).Status);
    }

    [Fact]
    public async Task AnAclReload_AppliesAGoodFile_AndRefusesABrokenOneNamingItsLine_KeepingTheRules()
    {
        using var files = await MakeFilesAsync(acl: "user seed\ntopic read ops/#\ntopic write ops/allowed\n");
        await using var broker = await ManagedBroker.StartAsync(withCredentials: true, "--Security:PasswordFile", files.Passwords, "--Security:AclFile", files.Acl);
        var port = broker.MqttPort;
        await using var subscriber = MosquittoClients.StartSubscriber(port, "ops/#", extra: ["-u", "seed", "-P", "seed-secret"]);
        await MosquittoClients.WaitUntilSubscribedAsync(subscriber);

        // A broken file: the reload says which line, and the rules in force stay.
        await File.WriteAllTextAsync(files.Acl, "user seed\ntopic read ops/#\ntopic write ops/allowed\nthis is not a rule\n");
        var broken = await broker.SendAsync(HttpMethod.Post, "/api/v1/security/acl/reload");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, broken.Status);
        Assert.Contains("line 4", broken.Body!.Value.GetProperty("detail").GetString(), StringComparison.Ordinal);
        // (QoS 1: the PUBACK says the broker has routed it, so what the subscriber has not seen by the next message it
        // never will.)
        Assert.Equal(0, (await PublishAsUserAsync(port, "seed", "seed-secret", "ops/new")).ExitCode);
        Assert.Equal(0, (await PublishAsUserAsync(port, "seed", "seed-secret", "ops/allowed")).ExitCode);
        Assert.NotNull(await subscriber.WaitForLineAsync(l => l.StartsWith("ops/allowed x", StringComparison.Ordinal), Deadline));
        Assert.DoesNotContain(subscriber.StdoutLines, l => l.StartsWith("ops/new", StringComparison.Ordinal));

        // A good file, reloaded at once: the new topic is allowed.
        await File.WriteAllTextAsync(files.Acl, "user seed\ntopic read ops/#\ntopic write ops/allowed\ntopic write ops/new\n");
        Assert.Equal(HttpStatusCode.Forbidden, (await broker.SendAsync(HttpMethod.Post, "/api/v1/security/acl/reload", caller: Caller.Viewer)).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await broker.SendAsync(HttpMethod.Post, "/api/v1/security/acl/reload")).Status);
        Assert.Equal(0, (await PublishAsUserAsync(port, "seed", "seed-secret", "ops/new")).ExitCode);
        Assert.NotNull(await subscriber.WaitForLineAsync(l => l.StartsWith("ops/new x", StringComparison.Ordinal), Deadline));
    }

    [Fact]
    public async Task TheLogLevel_ChangesAtRuntime_AndBadLevelsAreRefused()
    {
        await using var broker = await ManagedBroker.StartAsync(withCredentials: true);
        var levels = await broker.GetJsonAsync("/api/v1/logging", Caller.Monitoring);
        Assert.Equal("Information", levels.GetProperty("Default").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, (await broker.SendAsync(HttpMethod.Get, "/api/v1/logging", caller: Caller.Viewer)).Status);

        foreach (var bad in new[] { "Verbose", "7", "" })
            Assert.Equal(HttpStatusCode.BadRequest, (await broker.SendAsync(HttpMethod.Put, "/api/v1/logging", new { level = bad })).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await broker.SendAsync(HttpMethod.Put, "/api/v1/logging", new { level = "Debug" }, Caller.Viewer)).Status);

        // At Information a client's connection leaves no line; at Debug it does ("Client … connected from …").
        Assert.Equal(0, (await MosquittoClients.PublishAsync(broker.MqttPort, "ops/log", "x", extra: ["-i", "quiet-client"])).ExitCode);
        var set = await broker.SendAsync(HttpMethod.Put, "/api/v1/logging", new { level = "Debug", category = "Kirisame.Connection" });
        Assert.Equal(HttpStatusCode.OK, set.Status);
        Assert.Equal("Debug", set.Body!.Value.GetProperty("Kirisame.Connection").GetString());
        Assert.Equal(0, (await MosquittoClients.PublishAsync(broker.MqttPort, "ops/log", "x", extra: ["-i", "loud-client"])).ExitCode);
        Assert.NotNull(await broker.Server.Process.WaitForLineAsync(l => l.Contains("loud-client", StringComparison.Ordinal) && l.Contains("connected from", StringComparison.Ordinal), Deadline));
        Assert.DoesNotContain(broker.Server.Process.StdoutLines, l => l.Contains("quiet-client", StringComparison.Ordinal) && l.Contains("connected from", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Listeners_AreListedWithTheirBoundAddress()
    {
        await using var broker = await ManagedBroker.StartAsync(withCredentials: true);
        var listeners = (await broker.GetJsonAsync("/api/v1/listeners", Caller.Viewer)).EnumerateArray().ToList();
        var tcp = Assert.Single(listeners);
        Assert.Equal("mqtt", tcp.GetProperty("protocol").GetString());
        Assert.EndsWith($":{broker.MqttPort}", tcp.GetProperty("endPoint").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ctl_ManagesUsersBansListenersAndLogLevels()
    {
        using var files = await MakeFilesAsync();
        await using var broker = await ManagedBroker.StartAsync(withCredentials: true, "--Security:PasswordFile", files.Passwords);
        Task<ToolResult> Ctl(params string[] arguments) =>
            KirisameProcess.RunToCompletionAsync(["ctl", "--url", broker.BaseUrl, "--token", broker.Credentials!.AdminToken, .. arguments], Deadline);

        var added = await Ctl("users", "add", "erin", "erin-secret");
        Assert.True(added.ExitCode == 0, added.ToString());
        var users = await Ctl("users");
        Assert.Equal(["erin", "seed"], users.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        await UntilAsync(async () => (await PublishAsUserAsync(broker.MqttPort, "erin", "erin-secret")).ExitCode == 0, "erin logs in");
        Assert.Equal(0, (await Ctl("users", "delete", "erin")).ExitCode);
        var missing = await Ctl("users", "delete", "erin");
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("erin", missing.Stderr, StringComparison.Ordinal);

        var listeners = await Ctl("listeners");
        Assert.Contains($":{broker.MqttPort}", listeners.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, (await Ctl("bans")).ExitCode);
        Assert.Equal(0, (await Ctl("acl", "reload")).ExitCode);

        var set = await Ctl("log-level", "Warning", "--category", "Kirisame.Connection");
        Assert.True(set.ExitCode == 0, set.ToString());
        var levels = await Ctl("--json", "log-level");
        Assert.Equal("Warning", JsonDocument.Parse(levels.Stdout).RootElement.GetProperty("Kirisame.Connection").GetString());
        var bad = await Ctl("log-level", "Verbose");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("level must be one of", bad.Stderr, StringComparison.Ordinal);
    }
}
