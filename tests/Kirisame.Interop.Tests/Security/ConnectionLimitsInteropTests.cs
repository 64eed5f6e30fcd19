using System.Globalization;
using Kirisame.Testing;

namespace Kirisame.Interop.Tests.Security;

/// Transport:MaxConnections, Listeners:NAME:MaxConnections and Transport:MaxConnectRatePerAddress against the
/// real server. A connection over a limit is closed on accept, before TLS and before its CONNECT is read
/// (as Mosquitto does for max_connections): a flood then costs no handshake and no parsing.
public sealed class ConnectionLimitsInteropTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// Connects until the broker admits the client. The fixture's readiness probe holds a slot until the
    /// server has noticed that it closed, and a closed client's slot is freed just as asynchronously.
    private static async Task<RawSession> AdmittedAsync(int port, string? from = null)
    {
        var deadline = DateTime.UtcNow + s_timeout;
        while (true)
        {
            var session = await RawSession.ConnectAsync(port, from);
            if (session.Accepted)
                return session;
            session.Dispose();
            Assert.True(DateTime.UtcNow < deadline, $"no connection to port {port} was admitted within {s_timeout.TotalSeconds} s");
            await Task.Delay(25);
        }
    }

    private static async Task AssertRefusedAsync(int port, string? from = null)
    {
        using var refused = await RawSession.ConnectAsync(port, from);
        Assert.True(refused.ConnAck is null, $"expected the connection to be closed on accept, got CONNACK 0x{refused.ConnAck:X2}");
    }

    [Fact]
    public async Task MaxConnections_ClosesTheConnectionBeyondTheLimit_OnEveryListener_UntilASlotIsFreed()
    {
        await using var server = await KirisameProcess.StartAsync(1, ports =>
            ["--Transport:MaxConnections", "2", "--Listeners:second:Port", Text(ports[0])]);
        var second = server.ExtraPorts[0];

        var first = await AdmittedAsync(server.Port);
        using var other = await AdmittedAsync(second);

        // The limit is across listeners: the third connection is refused on either.
        await AssertRefusedAsync(server.Port);
        await AssertRefusedAsync(second);

        // Closing one frees its slot (asynchronously: poll), and only one.
        first.Dispose();
        using var replacement = await AdmittedAsync(server.Port);
        await AssertRefusedAsync(second);
    }

    [Fact]
    public async Task ListenerMaxConnections_AreCountedPerListener()
    {
        await using var server = await KirisameProcess.StartAsync(2, ports =>
            ["--Listeners:a:Port", Text(ports[0]), "--Listeners:a:MaxConnections", "1",
                "--Listeners:b:Port", Text(ports[1]), "--Listeners:b:MaxConnections", "1"]);
        var (a, b) = (server.ExtraPorts[0], server.ExtraPorts[1]);

        var onA = await AdmittedAsync(a);
        await AssertRefusedAsync(a);

        // a being full does not touch b, nor the default listener, which has no limit of its own.
        using var onB = await AdmittedAsync(b);
        await AssertRefusedAsync(b);
        using var tcp1 = await AdmittedAsync(server.Port);
        using var tcp2 = await AdmittedAsync(server.Port);
        using var tcp3 = await AdmittedAsync(server.Port);

        onA.Dispose();
        using var againOnA = await AdmittedAsync(a);
        await AssertRefusedAsync(b);
    }

    [Fact]
    public async Task ConnectRate_IsLimitedPerSourceAddress()
    {
        // A burst of 3, then one new connection per 1000 s: the fourth from one address is refused.
        await using var server = await KirisameProcess.StartAsync(
            ["--Transport:MaxConnectRatePerAddress", "0.001", "--Transport:ConnectBurstPerAddress", "3"]);

        for (var i = 0; i < 3; i++)
        {
            using var session = await RawSession.ConnectAsync(server.Port, from: "127.0.0.2");
            Assert.True(session.Accepted, $"connection {i + 1} of the burst got CONNACK {session.ConnAck}");
        }
        await AssertRefusedAsync(server.Port, from: "127.0.0.2");

        // Other addresses have their own budget.
        using var fromAnother = await RawSession.ConnectAsync(server.Port, from: "127.0.0.3");
        Assert.True(fromAnother.Accepted);
        await AssertRefusedAsync(server.Port, from: "127.0.0.2");
    }

    [Theory]
    [InlineData("--Transport:MaxConnections", "-1", "Transport:MaxConnections")]
    [InlineData("--Transport:MaxConnectRatePerAddress", "-0.5", "Transport:MaxConnectRatePerAddress")]
    [InlineData("--Transport:ConnectBurstPerAddress", "0", "Transport:ConnectBurstPerAddress")]
    [InlineData("--Listeners:a:MaxConnections", "many", "Listeners:a:MaxConnections")]
    public async Task BadLimit_StopsTheServer_NamingTheKey(string option, string value, string key)
    {
        var result = await KirisameProcess.RunToCompletionAsync(["--port", "1", "--in-memory", option, value], s_timeout);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(key, result.Stderr, StringComparison.Ordinal);
    }
}
