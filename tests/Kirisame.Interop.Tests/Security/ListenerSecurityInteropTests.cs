using System.Diagnostics;
using System.Globalization;
using Kirisame.Testing;

namespace Kirisame.Interop.Tests.Security;

/// Security per listener (Listeners:NAME:AllowAnonymous, PasswordFile, AclFile, DefaultUser), the default
/// user, and the failed-login delay and ban, against the real server with exact reason codes.
public sealed class ListenerSecurityInteropTests : IDisposable
{
    private const int Granted = 0x01;
    private const int NotAuthorized = 0x87;
    private const int BadUserNameOrPassword = 0x86;
    private const int Banned = 0x8A;
    private const int V3NotAuthorized = 0x05;

    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("kirisame-listener-security-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// PUBACK 0x00, or 0x10 No matching subscribers (whether a subscriber that just left is still
    /// counted is a race the test need not win).
    private static void AssertPublished(int reasonCode) => Assert.True(reasonCode is 0x00 or 0x10, $"PUBACK 0x{reasonCode:X2}");

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    private async Task<string> PasswordFileAsync(params (string User, string Password)[] users)
    {
        var path = Path.Combine(_directory, "passwd");
        foreach (var (user, password) in users)
        {
            var result = await KirisameProcess.RunToCompletionAsync(["passwd", "-b", "--iterations", "1000", path, user, password], s_timeout);
            Assert.True(result.ExitCode == 0, result.ToString());
        }
        return path;
    }

    private async Task<string> AclFileAsync(string text)
    {
        var path = Path.Combine(_directory, "acl");
        await File.WriteAllTextAsync(path, text);
        return path;
    }

    [Fact]
    public async Task TwoListeners_OneAnonymous_OneWithPasswordsAndItsOwnAcl()
    {
        var passwords = await PasswordFileAsync(("alice", "a"));
        var acl = await AclFileAsync("user alice\ntopic read sensors/#\n");
        await using var server = await KirisameProcess.StartAsync(1, ports =>
            ["--Listeners:secure:Port", Text(ports[0]), "--Listeners:secure:PasswordFile", passwords, "--Listeners:secure:AclFile", acl,
                "--Security:FailedLoginDelay", "00:00:00", "--Security:MaxFailedLogins", "0"]);
        var secure = server.ExtraPorts[0];

        // The default listener has no security settings and is on loopback: anonymous clients may do anything.
        using (var anonymous = await RawSession.ConnectAsync(server.Port))
        {
            Assert.Equal(0, anonymous.ConnAck);
            AssertPublished(await anonymous.PublishAsync("sensors/temperature", "21"));
        }

        // The secure listener wants a password from the file...
        using (var anonymous = await RawSession.ConnectAsync(secure))
            Assert.Equal(NotAuthorized, anonymous.ConnAck);
        using (var wrong = await RawSession.ConnectAsync(secure, user: "alice", password: "b"))
            Assert.Equal(BadUserNameOrPassword, wrong.ConnAck);

        // ...and applies its own ACL: alice may read sensors/# there but not write.
        using (var alice = await RawSession.ConnectAsync(secure, user: "alice", password: "a"))
        {
            Assert.Equal(0, alice.ConnAck);
            Assert.Equal(Granted, await alice.SubscribeAsync("sensors/#"));
            Assert.Equal(NotAuthorized, await alice.PublishAsync("sensors/temperature", "22"));
        }

        // On the default listener neither the password file nor the ACL applies.
        using (var alice = await RawSession.ConnectAsync(server.Port, user: "alice", password: "anything"))
        {
            Assert.Equal(0, alice.ConnAck);
            AssertPublished(await alice.PublishAsync("sensors/temperature", "23"));
        }

        Assert.NotNull(await server.Process.WaitForLineAsync(l => l.Contains("Listener secure: password file", StringComparison.Ordinal), s_timeout));
    }

    [Fact]
    public async Task ListenerAllowAnonymous_OverridesTheGlobalPasswordRequirement()
    {
        // A global password file refuses anonymous clients everywhere, except where a listener says otherwise.
        var passwords = await PasswordFileAsync(("alice", "a"));
        await using var server = await KirisameProcess.StartAsync(1, ports =>
            ["--password-file", passwords, "--Listeners:local:Port", Text(ports[0]), "--Listeners:local:AllowAnonymous", "true",
                "--Security:FailedLoginDelay", "00:00:00"]);

        using (var refused = await RawSession.ConnectAsync(server.Port))
            Assert.Equal(NotAuthorized, refused.ConnAck);
        using (var admitted = await RawSession.ConnectAsync(server.ExtraPorts[0]))
            Assert.Equal(0, admitted.ConnAck);
        // The password file still applies there to clients that do send a name.
        using (var wrong = await RawSession.ConnectAsync(server.ExtraPorts[0], user: "alice", password: "b"))
            Assert.Equal(BadUserNameOrPassword, wrong.ConnAck);
    }

    [Fact]
    public async Task ListenerReachableFromTheNetwork_WithoutAuthentication_RefusesToStart_NamingIt()
    {
        // Never binds: the check runs before any listener is opened. The default listener stays on loopback
        // and is fine; only the exposed one is reported, with the per-listener keys that fix it.
        var result = await KirisameProcess.RunToCompletionAsync(
            ["--port", "1", "--in-memory", "--Listeners:public:BindAddress", "0.0.0.0", "--Listeners:public:Port", "2"], s_timeout);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Listener public (mqtt://0.0.0.0:2) is reachable from the network", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("Listeners:public:PasswordFile", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("Listeners:public:AllowAnonymous", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Listener tcp", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("AllowAnonymous", "maybe", "Listeners:x:AllowAnonymous must be true or false")]
    [InlineData("PasswordFile", "/nonexistent/passwd", "Listeners:x:PasswordFile: '/nonexistent/passwd' does not exist")]
    [InlineData("AclFile", "/nonexistent/acl", "Listeners:x:AclFile: '/nonexistent/acl' does not exist")]
    public async Task BadListenerSecuritySetting_StopsTheServer_NamingTheKey(string setting, string value, string message)
    {
        var result = await KirisameProcess.RunToCompletionAsync(
            ["--port", "1", "--in-memory", "--Listeners:x:Port", "2", $"--Listeners:x:{setting}", value], s_timeout);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BrokenListenerAclFile_StopsTheServer_NamingKeyAndLine()
    {
        var acl = await AclFileAsync("user alice\nsubscribe everything\n");
        var result = await KirisameProcess.RunToCompletionAsync(
            ["--port", "1", "--in-memory", "--Listeners:x:Port", "2", "--Listeners:x:AclFile", acl], s_timeout);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Listeners:x:AclFile", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("line 2", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListenerNamedLikeTheDefaultListener_StopsTheServer()
    {
        var result = await KirisameProcess.RunToCompletionAsync(["--port", "1", "--in-memory", "--Listeners:tcp:Port", "2"], s_timeout);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Listeners:tcp", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DefaultUser_IsGivenToClientsWithoutAName_AndItsAclRulesApply()
    {
        var passwords = await PasswordFileAsync(("alice", "a"));
        var acl = await AclFileAsync("user guest\ntopic read public/#\n\nuser alice\ntopic readwrite #\n");
        await using var server = await KirisameProcess.StartAsync(
            ["--password-file", passwords, "--acl-file", acl, "--Security:AllowAnonymous", "true", "--Security:DefaultUser", "guest"]);

        using (var anonymous = await RawSession.ConnectAsync(server.Port))
        {
            Assert.Equal(0, anonymous.ConnAck);
            Assert.Equal(Granted, await anonymous.SubscribeAsync("public/#"));
            Assert.Equal(NotAuthorized, await anonymous.SubscribeAsync("private/#"));
            Assert.Equal(NotAuthorized, await anonymous.PublishAsync("public/news", "from a guest"));
        }

        using (var alice = await RawSession.ConnectAsync(server.Port, user: "alice", password: "a"))
        {
            Assert.Equal(0, alice.ConnAck);
            AssertPublished(await alice.PublishAsync("public/news", "from alice"));
        }

        Assert.NotNull(await server.Process.WaitForLineAsync(l => l.Contains("anonymous allowed as user 'guest'", StringComparison.Ordinal), s_timeout));
    }

    [Fact]
    public async Task RepeatedFailedLogins_BanTheAddress_OnlyThatAddress()
    {
        var passwords = await PasswordFileAsync(("alice", "a"));
        await using var server = await KirisameProcess.StartAsync(
            ["--password-file", passwords, "--Security:MaxFailedLogins", "3", "--Security:FailedLoginDelay", "00:00:00",
                "--Security:BanDuration", "00:10:00"]);

        for (var i = 0; i < 3; i++)
        {
            using var wrong = await RawSession.ConnectAsync(server.Port, from: "127.0.0.2", user: "alice", password: "guess" + i);
            Assert.Equal(BadUserNameOrPassword, wrong.ConnAck);
        }

        // Banned: even the right password is refused from that address, v5 with 0x8A and 3.1.1 with 0x05.
        using (var banned = await RawSession.ConnectAsync(server.Port, from: "127.0.0.2", user: "alice", password: "a"))
            Assert.Equal(Banned, banned.ConnAck);
        using (var bannedV3 = await RawSession.ConnectAsync(server.Port, from: "127.0.0.2", protocolLevel: 4, user: "alice", password: "a"))
            Assert.Equal(V3NotAuthorized, bannedV3.ConnAck);

        // Another address is not affected.
        using (var other = await RawSession.ConnectAsync(server.Port, from: "127.0.0.3", user: "alice", password: "a"))
            Assert.Equal(0, other.ConnAck);

        Assert.NotNull(await server.Process.WaitForLineAsync(l => l.Contains("Banned 127.0.0.2", StringComparison.Ordinal), s_timeout));
    }

    [Fact]
    public async Task FailedLogin_IsAnsweredAfterTheConfiguredDelay()
    {
        var passwords = await PasswordFileAsync(("alice", "a"));
        await using var server = await KirisameProcess.StartAsync(
            ["--password-file", passwords, "--Security:FailedLoginDelay", "00:00:01.5", "--Security:MaxFailedLogins", "0"]);

        var clock = Stopwatch.StartNew();
        using var wrong = await RawSession.ConnectAsync(server.Port, user: "alice", password: "b");
        Assert.Equal(BadUserNameOrPassword, wrong.ConnAck);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1.4), $"the refusal came after {clock.Elapsed.TotalSeconds:0.00} s");
    }

    [Theory]
    [InlineData("MaxFailedLogins", "-1")]
    [InlineData("FailedLoginDelay", "00:05:00")]
    [InlineData("BanDuration", "00:00:00")]
    [InlineData("FailedLoginWindow", "soon")]
    public async Task BadFailedLoginSetting_StopsTheServer_NamingTheKey(string setting, string value)
    {
        var result = await KirisameProcess.RunToCompletionAsync(["--port", "1", "--in-memory", $"--Security:{setting}", value], s_timeout);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"Security:{setting}", result.Stderr, StringComparison.Ordinal);
    }
}
