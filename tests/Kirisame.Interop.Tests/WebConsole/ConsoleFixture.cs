using System.Globalization;
using Kirisame.Interop.Tests.Management;
using Kirisame.Testing;

namespace Kirisame.Interop.Tests.WebConsole;

/// One real server and one browser for a class of console tests. The server has admin users and tokens
/// (the console must log in), a WebSocket listener (the WebSocket client page), and an MQTT password file with
/// anonymous clients still allowed (the Users page; failed logins that end in a ban for the Bans page).
public sealed class ConsoleFixture : IAsyncLifetime
{
    public const string MqttUser = "sensor";
    public const string MqttPassword = "sensor-secret";
    public const int MaxFailedLogins = 3;

    internal ManagedBroker Broker { get; private set; } = null!;

    internal ConsoleBrowser Browser { get; private set; } = null!;

    public int WebSocketPort => Broker.Server.ExtraPorts[1];

    public async Task InitializeAsync()
    {
        var folder = Directory.CreateTempSubdirectory("kirisame-console-");
        var passwords = Path.Combine(folder.FullName, "mqtt-users");
        var made = await KirisameProcess.RunToCompletionAsync(["passwd", "-b", "--iterations", "1000", passwords, MqttUser, MqttPassword], TimeSpan.FromSeconds(60));
        Assert.True(made.ExitCode == 0, made.ToString());
        Broker = await ManagedBroker.StartAsync(withCredentials: true, 1, ports =>
        [
            "--ws-port", ports[0].ToString(CultureInfo.InvariantCulture), "--password-file", passwords, "--allow-anonymous", "true",
            "--Security:FailedLoginDelay", "00:00:00", "--Security:MaxFailedLogins", MaxFailedLogins.ToString(CultureInfo.InvariantCulture),
            "--Security:BanDuration", "01:00:00",
        ]);
        Browser = new ConsoleBrowser();
    }

    public async Task DisposeAsync()
    {
        Browser?.Dispose();
        if (Broker is not null)
            await Broker.DisposeAsync();
    }
}

/// The API open (loopback, no admin users) and a browser.
public sealed class OpenConsoleFixture : IAsyncLifetime
{
    internal ManagedBroker Broker { get; private set; } = null!;

    internal ConsoleBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Broker = await ManagedBroker.StartAsync(withCredentials: false);
        Browser = new ConsoleBrowser();
    }

    public async Task DisposeAsync()
    {
        Browser?.Dispose();
        if (Broker is not null)
            await Broker.DisposeAsync();
    }
}
