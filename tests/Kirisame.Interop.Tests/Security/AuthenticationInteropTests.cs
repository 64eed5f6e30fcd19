using System.Globalization;
using Kirisame.Testing;

namespace Kirisame.Interop.Tests.Security;

/// Password files made by Debian's mosquitto_passwd and by `kirisame passwd`, ACL files in Mosquitto's
/// format, and the secure default for anonymous clients — driven with mosquitto_pub/sub.
public sealed class AuthenticationInteropTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("kirisame-auth-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string FilePath(string name) => Path.Combine(_directory, name);

    private static Task<ToolResult> Passwd(params string[] arguments) =>
        KirisameProcess.RunToCompletionAsync(["passwd", .. arguments], s_timeout);

    private static Task<ToolResult> PublishAsync(int port, string topic, string message, string? user = null, string? password = null)
    {
        List<string> arguments = ["-h", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-t", topic, "-m", message, "-q", "1"];
        if (user is not null)
            arguments.AddRange(["-u", user]);
        if (password is not null)
            arguments.AddRange(["-P", password]);
        return Tools.RunAsync(MosquittoClients.Pub, arguments, s_timeout);
    }

    /// Failed logins are delayed and then banned by default; these tests fail on purpose, so they get a
    /// short delay and no ban (the ban is covered in the broker's tests).
    private static readonly string[] s_lenient = ["--Security:FailedLoginDelay", "00:00:00.1", "--Security:MaxFailedLogins", "0"];

    [Fact]
    public async Task PasswordFiles_FromMosquittoPasswd_AndKirisamePasswd_BothLogIn()
    {
        var passwords = FilePath("passwd");
        var mosquitto = await Tools.RunAsync(Tools.Find("mosquitto_passwd", "/usr/bin/mosquitto_passwd"), ["-c", "-b", passwords, "alice", "alice-secret"], s_timeout);
        Assert.True(mosquitto.ExitCode == 0, mosquitto.ToString());
        var sha512 = await Tools.RunAsync(Tools.Find("mosquitto_passwd", "/usr/bin/mosquitto_passwd"), ["-H", "sha512", "-b", passwords, "old", "old-secret"], s_timeout);
        Assert.True(sha512.ExitCode == 0, sha512.ToString());
        var ours = await Passwd("-b", "--iterations", "20000", passwords, "bob", "bob-secret");
        Assert.True(ours.ExitCode == 0, ours.ToString());
        Assert.Contains("bob:$7$20000$", await File.ReadAllTextAsync(passwords), StringComparison.Ordinal);

        await using var server = await KirisameProcess.StartAsync(["--password-file", passwords, .. s_lenient]);
        foreach (var (user, password) in new[] { ("alice", "alice-secret"), ("old", "old-secret"), ("bob", "bob-secret") })
        {
            var ok = await PublishAsync(server.Port, "t", "m", user, password);
            Assert.True(ok.ExitCode == 0, ok.ToString());
        }

        var wrong = await PublishAsync(server.Port, "t", "m", "alice", "bob-secret");
        Assert.True(wrong.ExitCode != 0, wrong.ToString());
        Assert.Contains("bad user name or password", wrong.Stderr + wrong.Stdout, StringComparison.OrdinalIgnoreCase);

        // With a password file, clients without credentials are refused by default, even on loopback.
        var anonymous = await PublishAsync(server.Port, "t", "m");
        Assert.True(anonymous.ExitCode != 0, anonymous.ToString());
        Assert.Contains("not authori", anonymous.Stderr + anonymous.Stdout, StringComparison.OrdinalIgnoreCase);

        // The refusal is logged with the client's address.
        Assert.NotNull(await server.Process.WaitForLineAsync(l => l.Contains("Refused connection", StringComparison.Ordinal) && l.Contains("127.0.0.1", StringComparison.Ordinal), s_timeout));
    }

    [Fact]
    public async Task PasswordFile_ChangedOnDisk_IsUsedWithoutARestart()
    {
        var passwords = FilePath("passwd");
        Assert.Equal(0, (await Passwd("-b", "--iterations", "1000", passwords, "alice", "one")).ExitCode);
        await using var server = await KirisameProcess.StartAsync(["--password-file", passwords, .. s_lenient]);
        Assert.Equal(0, (await PublishAsync(server.Port, "t", "m", "alice", "one")).ExitCode);

        Assert.Equal(0, (await Passwd("-b", "--iterations", "1000", passwords, "carol", "three")).ExitCode);
        var deadline = DateTime.UtcNow + s_timeout;
        while ((await PublishAsync(server.Port, "t", "m", "carol", "three")).ExitCode != 0)
            Assert.True(DateTime.UtcNow < deadline, "the new user was never admitted");
    }

    [Fact]
    public async Task Passwd_CreatesAFile_DeletesAUser_AndHasItsOwnHelp()
    {
        var help = await Passwd("--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("kirisame passwd -D FILE USER", help.Stdout, StringComparison.Ordinal); // not the server's help
        Assert.DoesNotContain("--port", help.Stdout, StringComparison.Ordinal);

        var passwords = FilePath("passwd");
        Assert.Equal(0, (await Passwd("-c", "-b", "--iterations", "1000", passwords, "alice", "a")).ExitCode);
        Assert.Equal(0, (await Passwd("-b", "--iterations", "1000", passwords, "bob", "b")).ExitCode);
        Assert.Equal(["alice", "bob"], Users(passwords));
        Assert.Equal(0, (await Passwd("-c", "-b", "--iterations", "1000", passwords, "carol", "c")).ExitCode); // -c: a new file
        Assert.Equal(["carol"], Users(passwords));
        Assert.Equal(0, (await Passwd("-b", "--iterations", "1000", passwords, "dave", "d")).ExitCode);

        Assert.Equal(0, (await Passwd("-D", passwords, "carol")).ExitCode);
        Assert.Equal(["dave"], Users(passwords));
        var again = await Passwd("-D", passwords, "carol");
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("no user 'carol'", again.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, (await Passwd("-D", "-b", passwords, "dave", "d")).ExitCode); // -D takes FILE USER only

        // The file is still one Mosquitto and Kirisame read: dave logs in, carol does not.
        await using var server = await KirisameProcess.StartAsync(["--password-file", passwords, .. s_lenient]);
        Assert.Equal(0, (await PublishAsync(server.Port, "t", "m", "dave", "d")).ExitCode);
        Assert.NotEqual(0, (await PublishAsync(server.Port, "t", "m", "carol", "c")).ExitCode);
    }

    private static string[] Users(string file) => [.. File.ReadAllLines(file).Select(l => l.Split(':')[0])];

    [Fact]
    public async Task AclFile_AllowsAndDenies_PublishAndSubscribe()
    {
        var passwords = FilePath("passwd");
        Assert.Equal(0, (await Passwd("-b", "--iterations", "1000", passwords, "alice", "a")).ExitCode);
        Assert.Equal(0, (await Passwd("-b", "--iterations", "1000", passwords, "bob", "b")).ExitCode);
        var acl = FilePath("acl");
        await File.WriteAllTextAsync(acl, """
            user alice
            topic readwrite sensors/#
            topic deny sensors/private

            user bob
            topic write sensors/temperature
            """);
        await using var server = await KirisameProcess.StartAsync(["--password-file", passwords, "--acl-file", acl, .. s_lenient]);
        var port = server.Port.ToString(CultureInfo.InvariantCulture);

        await using var subscriber = ExternalProcess.Start(Tools.Find("stdbuf", "/usr/bin/stdbuf"),
            ["-oL", MosquittoClients.Sub, "-h", "127.0.0.1", "-p", port, "-u", "alice", "-P", "a",
                "-t", "sensors/temperature", "-t", "sensors/humidity", "-v", "-d", "-q", "1"]);
        await MosquittoClients.WaitUntilSubscribedAsync(subscriber);

        // bob may write sensors/temperature and nothing else: his humidity reading is dropped.
        Assert.Equal(0, (await PublishAsync(server.Port, "sensors/humidity", "denied-bob", "bob", "b")).ExitCode);
        Assert.Equal(0, (await PublishAsync(server.Port, "sensors/temperature", "21", "bob", "b")).ExitCode);
        Assert.NotNull(await subscriber.WaitForLineAsync(l => l == "sensors/temperature 21", s_timeout));
        Assert.DoesNotContain(subscriber.StdoutLines, l => l.Contains("denied", StringComparison.Ordinal));

        // bob may not read at all, and alice may not subscribe to a filter that would include the denied
        // sensors/private: both SUBACKs carry 0x80 (128).
        foreach (var (user, password, filter) in new[] { ("bob", "b", "sensors/temperature"), ("alice", "a", "sensors/#") })
        {
            var refused = await Tools.RunAsync(MosquittoClients.Sub,
                ["-h", "127.0.0.1", "-p", port, "-u", user, "-P", password, "-t", filter, "-d", "-W", "3"], s_timeout);
            Assert.Contains("received SUBACK", refused.Stdout, StringComparison.Ordinal);
            Assert.Contains("128", refused.Stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task NetworkListener_WithoutAuthentication_RefusesToStart_SayingHowToFixIt()
    {
        // Never binds: the check runs before any listener is opened.
        var result = await KirisameProcess.RunToCompletionAsync(["--bind", "0.0.0.0", "--port", "1"], s_timeout);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("reachable from the network", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("Security:PasswordFile", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("Security:AllowAnonymous", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BrokenAclFile_StopsTheServer_NamingKeyAndLine()
    {
        var acl = FilePath("acl");
        await File.WriteAllTextAsync(acl, "user alice\ntopic readwrite sensors/#\nsubscribe everything\n");
        var result = await KirisameProcess.RunToCompletionAsync(["--port", "1", "--in-memory", "--acl-file", acl], s_timeout);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Security:AclFile", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("line 3", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KirisamePasswd_WithoutBatch_ReadsThePasswordTwice()
    {
        var passwords = FilePath("passwd");
        await using var process = ExternalProcess.Start(KirisameProcess.DotnetHost, [KirisameProcess.ServerDll, "passwd", "--iterations", "1000", passwords, "dave"]);
        await process.WriteInputAsync("pw\npw\n");
        Assert.True(await process.WaitForExitAsync(s_timeout), process.Describe());
        Assert.True(process.ExitCode == 0, process.Describe());
        Assert.StartsWith("dave:$7$1000$", await File.ReadAllTextAsync(passwords), StringComparison.Ordinal);
    }

    // Issue 4: SCRAM-SHA-256 "usable with a user from the password store". The entry is written by
    // `kirisame passwd --scram`; MQTTnet logs in with enhanced authentication (and checks the server's proof),
    // mosquitto_pub with the same user name and password in a plain CONNECT.
    [Fact]
    public async Task ScramUser_FromKirisamePasswdScram_LogsInWithEnhancedAuth_AndWithAPlainPassword()
    {
        var passwords = FilePath("passwd");
        var written = await Passwd("-b", "--scram", passwords, "erin", "erin-secret");
        Assert.True(written.ExitCode == 0, written.ToString());
        Assert.StartsWith("erin:$scram-sha256$4096$", await File.ReadAllTextAsync(passwords), StringComparison.Ordinal);
        Assert.Equal(0, (await Passwd("-b", "--iterations", "1000", passwords, "frank", "frank-secret")).ExitCode);

        await using var server = await KirisameProcess.StartAsync(["--password-file", passwords, .. s_lenient]);

        var scram = new ScramAuthenticationHandler("erin", "erin-secret");
        await using (var client = await MqttNetClient.ConnectAsync(server.Port, MQTTnet.Formatter.MqttProtocolVersion.V500, configure: o => o
            .WithEnhancedAuthentication(ScramAuthenticationHandler.Method, scram.ClientFirst())
            .WithEnhancedAuthenticationHandler(scram)))
        {
            Assert.Equal(ScramAuthenticationHandler.Method, client.ConnectResult!.AuthenticationMethod);
            Assert.True(scram.IsServerSignatureValid(client.ConnectResult.AuthenticationData), "The server signature in CONNACK is wrong.");
            await client.PingAsync();
        }

        var wrong = new ScramAuthenticationHandler("erin", "not-erin-secret");
        await using (var refused = await MqttNetClient.TryConnectAsync(server.Port, MQTTnet.Formatter.MqttProtocolVersion.V500, configure: o => o
            .WithEnhancedAuthentication(ScramAuthenticationHandler.Method, wrong.ClientFirst())
            .WithEnhancedAuthenticationHandler(wrong)))
        {
            Assert.Equal(MQTTnet.MqttClientConnectResultCode.BadUserNameOrPassword, refused.ConnectResult!.ResultCode);
        }

        // A $7$ user has no SCRAM keys: SCRAM refuses, the plain password still works.
        var frank = new ScramAuthenticationHandler("frank", "frank-secret");
        await using (var refused = await MqttNetClient.TryConnectAsync(server.Port, MQTTnet.Formatter.MqttProtocolVersion.V500, configure: o => o
            .WithEnhancedAuthentication(ScramAuthenticationHandler.Method, frank.ClientFirst())
            .WithEnhancedAuthenticationHandler(frank)))
        {
            Assert.Equal(MQTTnet.MqttClientConnectResultCode.BadUserNameOrPassword, refused.ConnectResult!.ResultCode);
        }

        var plain = await PublishAsync(server.Port, "t", "m", "erin", "erin-secret");
        Assert.True(plain.ExitCode == 0, plain.ToString());
        var plainWrong = await PublishAsync(server.Port, "t", "m", "erin", "wrong");
        Assert.True(plainWrong.ExitCode != 0, plainWrong.ToString());
        Assert.Equal(0, (await PublishAsync(server.Port, "t", "m", "frank", "frank-secret")).ExitCode);
    }
}
