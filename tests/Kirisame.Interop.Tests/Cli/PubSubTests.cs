using System.Globalization;
using Kirisame.Testing;

namespace Kirisame.Interop.Tests.Cli;

/// `kirisame pub` and `kirisame sub` (the real command) against the real kirisame server and a real mosquitto,
/// each way round with mosquitto_pub/mosquitto_sub, over TCP, TLS and WebSockets; exit codes as Mosquitto's.
public sealed class PubSubTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static Task<ToolResult> PubAsync(params string[] arguments) => KirisameProcess.RunToCompletionAsync(["pub", .. arguments], s_timeout);

    /// kirisame sub with -d, so that a test can wait for its SUBACK line before publishing.
    private static async Task<ExternalProcess> StartSubAsync(params string[] arguments)
    {
        var sub = ExternalProcess.Start(KirisameProcess.DotnetHost, [KirisameProcess.ServerDll, "sub", "-d", .. arguments]);
        var subscribed = await sub.WaitForLineAsync(l => l.EndsWith("received SUBACK", StringComparison.Ordinal), s_timeout);
        Assert.True(subscribed is not null, sub.Describe());
        return sub;
    }

    [Fact]
    public async Task KirisamePub_ThroughMosquitto_ReachesMosquittoSub()
    {
        await using var mosquitto = await MosquittoProcess.StartAsync();
        await using var subscriber = MosquittoClients.StartSubscriber(mosquitto.Port, "cli/#", 1);
        await MosquittoClients.WaitUntilSubscribedAsync(subscriber);

        var pub = await PubAsync("-h", "127.0.0.1", "-p", Port(mosquitto.Port), "-t", "cli/one", "-m", "hello mosquitto", "-q", "1");

        Assert.True(pub.ExitCode == 0, pub.ToString());
        var line = await subscriber.WaitForLineAsync(l => l.StartsWith("cli/one", StringComparison.Ordinal), s_timeout);
        Assert.True(line == "cli/one hello mosquitto", subscriber.Describe());
    }

    [Fact]
    public async Task MosquittoPub_ThroughKirisame_ReachesKirisameSub_AndCountEndsIt()
    {
        await using var server = await KirisameProcess.StartAsync();
        await using var sub = await StartSubAsync("-h", "127.0.0.1", "-p", Port(server.Port), "-t", "cli/#", "-q", "1", "-v", "-C", "2");

        var first = await MosquittoClients.PublishAsync(server.Port, "cli/a", "first", 1);
        var empty = await MosquittoClients.PublishAsync(server.Port, "cli/b", "", 2);

        Assert.True(first.ExitCode == 0 && empty.ExitCode == 0, first + "\n" + empty);
        Assert.True(await sub.WaitForExitAsync(s_timeout), sub.Describe());
        Assert.True(sub.ExitCode == 0, sub.Describe());
        Assert.Equal(["cli/a first", "cli/b (null)"], sub.StdoutLines.Where(l => l.StartsWith("cli/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task PubLines_AndSubFormat_WithMqtt5Properties()
    {
        await using var server = await KirisameProcess.StartAsync();
        var port = Port(server.Port);
        await using var sub = await StartSubAsync("-h", "127.0.0.1", "-p", port, "-V", "mqttv5", "-t", "props/#", "-C", "3",
            "-F", @"%t|%p|%q|%r|%l|%x|%C|%R|%D|%E|%P\t@@%%");

        var lines = ExternalProcess.Start(KirisameProcess.DotnetHost, [KirisameProcess.ServerDll, "pub", "-h", "127.0.0.1", "-p", port,
            "-V", "5", "-q", "1", "-t", "props/t", "-l",
            "-D", "publish", "user-property", "k", "v", "-D", "publish", "content-type", "text/plain", "-D", "publish", "response-topic", "back",
            "-D", "publish", "correlation-data", "c1", "-D", "publish", "message-expiry-interval", "3600"]);
        await lines.WriteInputAsync("one\n\nthree\n");

        Assert.True(await lines.WaitForExitAsync(s_timeout) && lines.ExitCode == 0, lines.Describe());
        Assert.True(await sub.WaitForExitAsync(s_timeout) && sub.ExitCode == 0, sub.Describe());
        var printed = sub.StdoutLines.Where(l => l.StartsWith("props/", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, printed.Count);
        // Subscribed at QoS 0, so delivered at 0; the expiry counts down on the way through (3600 or a second less).
        Assert.Matches(@"^props/t\|one\|0\|0\|3\|6f6e65\|text/plain\|back\|c1\|(3600|3599)\|k:v\t@%$", printed[0]);
        Assert.Matches(@"^props/t\|\|0\|0\|0\|\|text/plain", printed[1]);
        Assert.StartsWith("props/t|three|", printed[2], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExitCodes_AreMosquittos()
    {
        await using var server = await KirisameProcess.StartAsync(["--allow-anonymous", "false"]);
        var port = Port(server.Port);

        var refused = await PubAsync("-h", "127.0.0.1", "-p", port, "-t", "x", "-m", "y");
        var refused5 = await PubAsync("-h", "127.0.0.1", "-p", port, "-t", "x", "-m", "y", "-V", "mqttv5");
        var mosquittoRefused = await MosquittoClients.PublishAsync(server.Port, "x", "y");
        var noServer = await PubAsync("-h", "127.0.0.1", "-p", Port(FreePort.GetLoopbackPort()), "-t", "x", "-m", "y");
        var badTopic = await PubAsync("-t", "a/#", "-m", "y");
        var noMessage = await PubAsync("-t", "a");
        var subNoTopic = await KirisameProcess.RunToCompletionAsync(["sub", "-h", "127.0.0.1"], s_timeout);

        Assert.True(refused.ExitCode == 5, refused.ToString()); // 3.1.1 CONNACK 5: not authorised
        Assert.True(refused5.ExitCode == 135, refused5.ToString()); // 5.0 CONNACK 0x87: not authorized
        Assert.Equal(mosquittoRefused.ExitCode, refused.ExitCode);
        Assert.True(noServer.ExitCode == 1, noServer.ToString());
        Assert.True(badTopic.ExitCode == 1, badTopic.ToString());
        Assert.Contains("Invalid publish topic 'a/#'", badTopic.Stderr, StringComparison.Ordinal);
        Assert.True(noMessage.ExitCode == 1, noMessage.ToString());
        Assert.True(subNoTopic.ExitCode == 1, subNoTopic.ToString());
        Assert.DoesNotContain("   at ", refused.Stderr + noServer.Stderr + badTopic.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SubTimeout_Exits27_AsMosquittoSub()
    {
        await using var server = await KirisameProcess.StartAsync();

        var sub = await KirisameProcess.RunToCompletionAsync(["sub", "-h", "127.0.0.1", "-p", Port(server.Port), "-t", "quiet/#", "-W", "1"], s_timeout);
        var mosquittoSub = await Tools.RunAsync(MosquittoClients.Sub, ["-h", "127.0.0.1", "-p", Port(server.Port), "-t", "quiet/#", "-W", "1"], s_timeout);

        Assert.True(sub.ExitCode == 27, sub.ToString());
        Assert.Equal(mosquittoSub.ExitCode, sub.ExitCode);
        Assert.Contains("Timed out", sub.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tls_WithCaFile_AndWebSockets_ByUrl()
    {
        using var certificates = new TestCertificates();
        using var otherCa = new TestCertificates("Other CA");
        await using var server = await KirisameProcess.StartAsync(2, ports =>
        [
            "--tls-port", Port(ports[0]), "--cert", certificates.ServerCertificate, "--key", certificates.ServerKey,
            "--ws-port", Port(ports[1]),
        ]);
        var (tls, ws) = (Port(server.ExtraPorts[0]), Port(server.ExtraPorts[1]));
        await using var sub = await StartSubAsync("-L", $"ws://127.0.0.1:{ws}/secure/#", "-v", "-C", "2");

        var overTls = await PubAsync("-h", "localhost", "-p", tls, "--cafile", certificates.CaFile, "-t", "secure/tls", "-m", "over tls", "-q", "1");
        var overWs = await PubAsync("-L", $"ws://127.0.0.1:{ws}/secure/ws", "-m", "over websockets");
        var untrusted = await PubAsync("-h", "localhost", "-p", tls, "--cafile", otherCa.CaFile, "-t", "secure/x", "-m", "no");

        Assert.True(overTls.ExitCode == 0, overTls.ToString());
        Assert.True(overWs.ExitCode == 0, overWs.ToString());
        Assert.True(untrusted.ExitCode == 1, untrusted.ToString());
        Assert.True(await sub.WaitForExitAsync(s_timeout) && sub.ExitCode == 0, sub.Describe());
        Assert.Equal(["secure/tls over tls", "secure/ws over websockets"], sub.StdoutLines.Where(l => l.StartsWith("secure/", StringComparison.Ordinal)));
    }
}
