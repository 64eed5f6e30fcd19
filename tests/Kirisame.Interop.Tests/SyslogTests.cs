using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Kirisame.Testing;

namespace Kirisame.Interop.Tests;

/// The syslog target (issue 17): the real server sends RFC 5424 messages to a syslog socket the test holds — a
/// UDP one, and a Unix datagram one as /dev/log is — and refuses settings it cannot use with exit 2.
public sealed partial class SyslogTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// `<PRI>1 TIMESTAMP HOSTNAME kirisame PROCID - - category: message` (RFC 5424 section 6).
    [GeneratedRegex(@"^<(?<pri>\d+)>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ kirisame (?<pid>\d+) - - (?<category>[\w.]+): (?<message>.*)$")]
    private static partial Regex Rfc5424();

    /// Datagrams until one whose message contains <paramref name="text"/>; fails at the deadline.
    private static async Task<Match> ReceiveUntilAsync(Socket socket, string text)
    {
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(Deadline);
        while (true)
        {
            var length = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            var datagram = Encoding.UTF8.GetString(buffer, 0, length);
            var match = Rfc5424().Match(datagram);
            Assert.True(match.Success, $"not an RFC 5424 message: {datagram}");
            if (match.Groups["message"].Value.Contains(text, StringComparison.Ordinal))
                return match;
        }
    }

    [Fact]
    public async Task OverUdp_TheStartupLineArrives_AsDaemonInformation()
    {
        using var receiver = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        receiver.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)receiver.LocalEndPoint!).Port;
        await using var server = await KirisameProcess.StartAsync(["--Logging:Syslog:Address", $"udp://127.0.0.1:{port}"]);

        var ready = await ReceiveUntilAsync(receiver, "is ready");
        Assert.Equal("30", ready.Groups["pri"].Value); // daemon (3) × 8 + informational (6)
        Assert.Equal(server.Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), ready.Groups["pid"].Value);
        Assert.Equal("Kirisame.Server.BrokerLifecycle", ready.Groups["category"].Value);
    }

    [Fact]
    public async Task ToALocalSocket_WithAFacility_MessagesArrive()
    {
        var folder = Directory.CreateTempSubdirectory("kirisame-syslog-");
        try
        {
            var path = Path.Combine(folder.FullName, "log");
            using var receiver = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            receiver.Bind(new UnixDomainSocketEndPoint(path));
            await using var server = await KirisameProcess.StartAsync(["--Logging:Syslog:Address", path, "--Logging:Syslog:Facility", "local3"]);

            var ready = await ReceiveUntilAsync(receiver, "is ready");
            Assert.Equal("158", ready.Groups["pri"].Value); // local3 (19) × 8 + informational (6)
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("tcp://127.0.0.1:514", null, "Logging:Syslog:Address")]
    [InlineData("/nonexistent/kirisame/log", null, "Logging:Syslog:Address")]
    [InlineData("udp://127.0.0.1:514/path", null, "Logging:Syslog:Address")]
    [InlineData("udp://127.0.0.1:514", "local9", "Logging:Syslog:Facility")]
    public async Task SettingsItCannotUse_ExitWith2_NamingTheKey(string address, string? facility, string key)
    {
        string[] arguments = ["--in-memory", "--port", "0", "--Logging:Syslog:Address", address, .. facility is null ? [] : new[] { "--Logging:Syslog:Facility", facility }];
        var result = await KirisameProcess.RunToCompletionAsync(arguments, Deadline);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(key, result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
    }
}
