using Kirisame.Testing;

namespace Kirisame.Interop.Tests.MosquittoConf;

/// `kirisame --mosquitto-conf FILE`: the real server runs from a mosquitto.conf whose password file (made by
/// mosquitto_passwd) and ACL file are Mosquitto's own, and mosquitto_pub/mosquitto_sub find them honoured.
public sealed class MosquittoConfServeTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("kirisame-mosquitto-serve-");

    public void Dispose() => _directory.Delete(recursive: true);

    [Fact]
    public async Task MosquittoConf_PasswordAndAclFiles_AreHonoured()
    {
        var passwd = Path.Combine(_directory.FullName, "passwd");
        var made = await Tools.RunAsync(Tools.Find("mosquitto_passwd", "/usr/bin/mosquitto_passwd"), ["-c", "-b", passwd, "alice", "wonder"], s_timeout);
        Assert.True(made.ExitCode == 0, made.ToString());
        var acl = Path.Combine(_directory.FullName, "acl");
        await File.WriteAllTextAsync(acl, "# Mosquitto ACL\nuser alice\ntopic readwrite allowed/#\ntopic read secret/#\n");
        var conf = Path.Combine(_directory.FullName, "mosquitto.conf");

        // The fixture's default listener is turned back on from the command line (it overrides the file); the
        // clients use the file's listener.
        await using var server = await KirisameProcess.StartAsync(1, ports =>
        {
            File.WriteAllText(conf, $"""
                persistence false
                log_dest stdout
                listener {ports[0]} 127.0.0.1
                password_file {passwd}
                acl_file {acl}
                """);
            return ["--mosquitto-conf", conf, "--Transport:Enabled", "true"];
        });
        var port = server.ExtraPorts[0];

        var anonymous = await MosquittoClients.PublishAsync(port, "allowed/x", "no name");
        var wrongPassword = await MosquittoClients.PublishAsync(port, "allowed/x", "bad", extra: ["-u", "alice", "-P", "nope"]);
        // mosquitto_pub exits with the CONNACK code (3.1.1): 5 not authorised.
        Assert.True(anonymous.ExitCode == 5, anonymous.ToString());
        Assert.True(wrongPassword.ExitCode == 4, wrongPassword.ToString()); // 4 bad user name or password

        await using var subscriber = MosquittoClients.StartSubscriber(port, "allowed/#", 1, "mqttv311", "-t", "secret/#", "-u", "alice", "-P", "wonder");
        await MosquittoClients.WaitUntilSubscribedAsync(subscriber);
        var refused = await MosquittoClients.PublishAsync(port, "secret/x", "read only", 1, extra: ["-u", "alice", "-P", "wonder"]);
        var granted = await MosquittoClients.PublishAsync(port, "allowed/x", "hello", 1, extra: ["-u", "alice", "-P", "wonder"]);
        Assert.True(granted.ExitCode == 0, granted.ToString());

        var line = await subscriber.WaitForLineAsync(l => l.StartsWith("allowed/x ", StringComparison.Ordinal), s_timeout);
        Assert.True(line == "allowed/x hello", subscriber.Describe());
        // The publish to secret/x (read-only for alice) was acknowledged but not delivered, and it went first.
        Assert.True(refused.ExitCode == 0, refused.ToString());
        Assert.DoesNotContain(subscriber.StdoutLines, l => l.StartsWith("secret/x", StringComparison.Ordinal));
        Assert.Contains("mosquitto.conf:2: warning: log_dest", server.Process.Stderr, StringComparison.Ordinal);
    }
}
