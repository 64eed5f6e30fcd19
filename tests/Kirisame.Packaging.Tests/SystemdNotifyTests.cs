using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Kirisame.Testing;

namespace Kirisame.Packaging.Tests;

/// The server as systemd runs it with Type=notify: NOTIFY_SOCKET names a Unix datagram socket, bound here by
/// the test in systemd's place.
public sealed class SystemdNotifyTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private readonly TemporaryFolder _folder = new();

    [Fact]
    public async Task WithNotifySocket_ReadyIsSentOnceListening_AndStoppingOnSigterm()
    {
        var socketPath = Path.Combine(_folder.Path, "notify");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(socketPath));
        var port = FreePort.GetLoopbackPort();
        await using var server = ExternalProcess.Start(KirisameProcess.DotnetHost,
            [KirisameProcess.ServerDll, "--port", port.ToString(CultureInfo.InvariantCulture), "--in-memory", "--Management:Enabled", "false"],
            new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = socketPath });

        var ready = await ReceiveAsync(socket, server);
        Assert.Equal("READY=1", ready);
        // Ready means serving: the listener accepts at once, without waiting or retrying.
        using (var client = new TcpClient())
            await client.ConnectAsync("127.0.0.1", port);

        server.Terminate();
        Assert.Equal("STOPPING=1", await ReceiveAsync(socket, server));
        Assert.True(await server.WaitForExitAsync(s_timeout), server.Describe());
        Assert.True(server.ExitCode == 0, server.Describe());
    }

    /// `systemctl reload` (ExecReload=kill -HUP): the password file is re-read and the broker keeps running.
    [Fact]
    public async Task Sighup_RereadsThePasswordFile_AndTheBrokerKeepsRunning()
    {
        var passwords = Path.Combine(_folder.Path, "passwd");
        var made = await KirisameProcess.RunToCompletionAsync(["passwd", "-b", "--iterations", "1000", passwords, "alice", "secret"], s_timeout);
        Assert.True(made.ExitCode == 0, made.ToString());
        await using var broker = await KirisameProcess.StartAsync(["--password-file", passwords]);

        var hup = await Tools.RunAsync("/bin/kill", ["-HUP", broker.Process.Id.ToString(CultureInfo.InvariantCulture)], s_timeout);
        Assert.Equal(0, hup.ExitCode);

        var line = await broker.Process.WaitForLineAsync(l => l.Contains("SIGHUP: re-read 1 password", StringComparison.Ordinal), s_timeout);
        Assert.True(line is not null, broker.Describe());
        Assert.True(await broker.Process.WaitForLineAsync(l => l.Contains($"Reloaded {passwords}", StringComparison.Ordinal), s_timeout) is not null,
            broker.Describe());
        Assert.False(broker.Process.HasExited, broker.Describe());
        Assert.True(await FreePort.WaitUntilAcceptingAsync(broker.Port, s_timeout), broker.Describe());
    }

    private static async Task<string> ReceiveAsync(Socket socket, ExternalProcess server)
    {
        var buffer = new byte[512];
        using var deadline = new CancellationTokenSource(s_timeout);
        try
        {
            var received = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
            return Encoding.UTF8.GetString(buffer, 0, received).Trim();
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"Nothing arrived on NOTIFY_SOCKET within {s_timeout.TotalSeconds} s.\n{server.Describe()}");
        }
    }

    public void Dispose() => _folder.Dispose();
}
