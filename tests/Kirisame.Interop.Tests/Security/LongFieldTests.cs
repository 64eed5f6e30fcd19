using Kirisame.Testing;

namespace Kirisame.Interop.Tests.Security;

/// Client strings at the 16-bit boundary that the broker echoes back (reason strings) or logs. Each of these
/// once stopped the real process or left a connection stuck open: a refusal quoting a 64 KiB user name threw in
/// the encoder on a thread-pool thread (exit 134), and one quoting a 64 KiB authentication method or topic threw
/// in the read loop, which then never closed the socket.
public sealed class LongFieldTests : IAsyncLifetime
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("kirisame-long-").FullName;
    private KirisameProcess? _server;

    private KirisameProcess Server => _server!;

    public async Task InitializeAsync()
    {
        var passwords = Path.Combine(_directory, "passwd");
        var made = await KirisameProcess.RunToCompletionAsync(["passwd", "-b", "--iterations", "1000", passwords, "alice", "a"], s_timeout);
        Assert.Equal(0, made.ExitCode);
        var acl = Path.Combine(_directory, "acl");
        await File.WriteAllTextAsync(acl, "user alice\ntopic write allowed/#\n");
        _server = await KirisameProcess.StartAsync(["--password-file", passwords, "--acl-file", acl,
            "--Security:FailedLoginDelay", "00:00:00.01", "--Security:MaxFailedLogins", "0"]);
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
            await _server.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Theory]
    [InlineData(5, 65_511)] // the shortest that overflowed the quoting reason string
    [InlineData(5, 65_535)]
    [InlineData(4, 65_535)]
    public async Task LongUserName_WithAWrongPassword_IsRefused_AndTheBrokerCarriesOn(byte protocolLevel, int length)
    {
        using (var refused = await RawSession.ConnectAsync(Server.Port, protocolLevel: protocolLevel, user: new string('u', length), password: "wrong"))
        {
            Assert.Equal(protocolLevel == 5 ? 0x86 : 0x04, refused.ConnAck); // bad user name or password
            Assert.True(await refused.IsClosedByBrokerAsync());
        }

        await AssertServingAsync();
    }

    [Fact]
    public async Task LongAuthenticationMethod_IsRefusedWith0x8C_AndEveryConnectionCloses()
    {
        var attempts = Enumerable.Range(0, 20).Select(async _ =>
        {
            using var session = await RawSession.ConnectAsync(Server.Port, authenticationMethod: new string('m', 65_535));
            Assert.Equal(0x8C, session.ConnAck); // bad authentication method
            Assert.True(await session.IsClosedByBrokerAsync()); // within RawSession.Timeout, not held open
        });
        await Task.WhenAll(attempts);

        await AssertServingAsync();
    }

    [Fact]
    public async Task PublishRefusedByTheAcl_OnA64KiBTopic_Gets0x87_AndTheConnectionKeepsWorking()
    {
        using var session = await RawSession.ConnectAsync(Server.Port, user: "alice", password: "a");
        Assert.True(session.Accepted);

        Assert.Equal(0x87, await session.PublishAsync(new string('t', 65_535), "denied")); // not authorized
        Assert.Equal(0x10, await session.PublishAsync("allowed/next", "fine")); // no matching subscribers: served

        await AssertServingAsync();
    }

    /// The process is up, serves a new client, and never wrote a client's 64 KiB string into its log.
    private async Task AssertServingAsync()
    {
        using (var fresh = await RawSession.ConnectAsync(Server.Port, user: "alice", password: "a"))
            Assert.True(fresh.Accepted, "a well-behaved client is served after the long fields");
        Assert.False(Server.Process.HasExited, Server.Process.Describe());
        var longest = Server.Process.StdoutLines.Concat(Server.Process.Stderr.Split('\n')).Max(l => l.Length);
        Assert.True(longest < 2_000, $"a log line of {longest} characters: client strings must be quoted short");
    }
}
