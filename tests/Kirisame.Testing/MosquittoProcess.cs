using System.Globalization;

namespace Kirisame.Testing;

/// Debian's Mosquitto on a free loopback port: the reference broker for checking tests and comparisons.
public sealed class MosquittoProcess : IBrokerProcess
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(15);

    private readonly string _directory;

    private MosquittoProcess(ExternalProcess process, int port, string directory)
    {
        Process = process;
        Port = port;
        _directory = directory;
    }

    public string Name => "mosquitto";

    public int Port { get; }

    public ExternalProcess Process { get; }

    public static string Executable => Tools.Find("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto");

    /// Starts mosquitto with an anonymous loopback listener plus extra configuration lines (later lines win, e.g.
    /// "persistence true"). <paramref name="fixedPort"/>: that port instead of a free one (a remote broker restarted
    /// where its clients expect it).
    public static async Task<MosquittoProcess> StartAsync(IEnumerable<string>? configurationLines = null, int fixedPort = 0)
    {
        string[] extra = [.. configurationLines ?? []];
        for (var attempt = 1; ; attempt++)
        {
            var port = fixedPort > 0 ? fixedPort : FreePort.GetLoopbackPort();
            var directory = Directory.CreateTempSubdirectory("kirisame-mosquitto-").FullName;
            var configuration = Path.Combine(directory, "mosquitto.conf");
            await File.WriteAllLinesAsync(configuration,
            [
                $"listener {port.ToString(CultureInfo.InvariantCulture)} 127.0.0.1",
                "allow_anonymous true",
                "persistence false",
                "log_dest stdout",
                .. extra,
            ]);
            var process = ExternalProcess.Start(Executable, ["-c", configuration]);
            if (await FreePort.WaitUntilAcceptingAsync(port, s_startTimeout, () => process.HasExited))
                return new MosquittoProcess(process, port, directory);

            var description = process.Describe();
            await process.DisposeAsync();
            Directory.Delete(directory, recursive: true);
            if (fixedPort == 0 && attempt < 3 && description.Contains("Address already in use", StringComparison.Ordinal))
                continue;
            throw new InvalidOperationException($"mosquitto did not accept connections on port {port}.\n{description}");
        }
    }

    public string Describe() => Process.Describe();

    public async ValueTask DisposeAsync()
    {
        await Process.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }
}
