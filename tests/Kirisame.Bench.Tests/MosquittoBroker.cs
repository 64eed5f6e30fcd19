using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Kirisame.Bench.Tests;

/// Debian's mosquitto on a free loopback port, started once for the engine tests. A missing mosquitto is
/// a failure with a clear message, never a silent skip (CI installs the package).
public sealed class MosquittoBroker : IDisposable
{
    private readonly Process _process;
    private readonly string _directory;

    public MosquittoBroker()
    {
        var executable = Find() ?? throw new InvalidOperationException(
            "The Kirisame.Bench tests run the load generator against Mosquitto, and no 'mosquitto' executable was found " +
            "(looked in /usr/sbin and PATH). Install it: apt-get install mosquitto.");
        Port = FreePort();
        _directory = Directory.CreateTempSubdirectory("kirisame-bench-mosquitto-").FullName;
        var config = Path.Combine(_directory, "mosquitto.conf");
        // max_queued_messages 0: by default Mosquitto drops QoS 1/2 messages beyond 1 000 queued for one
        // client, which an unthrottled fan-in reaches; the tests check the generator's loss accounting, so
        // the broker must not lose anything by policy.
        File.WriteAllText(config, $"""
            listener {Port} 127.0.0.1
            allow_anonymous true
            set_tcp_nodelay true
            persistence false
            max_queued_messages 0
            log_dest stderr
            log_type error
            """);
        _process = Process.Start(new ProcessStartInfo(executable, ["-c", config])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("mosquitto did not start.");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        WaitUntilListening();
    }

    public int Port { get; }

    public int ProcessId => _process.Id;

    private void WaitUntilListening()
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"mosquitto exited with code {_process.ExitCode} on port {Port}.");
            try
            {
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                probe.Connect(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                Thread.Sleep(50);
            }
        }

        throw new InvalidOperationException($"mosquitto did not listen on port {Port} within 10 s.");
    }

    private static string? Find()
    {
        if (File.Exists("/usr/sbin/mosquitto"))
            return "/usr/sbin/mosquitto";
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            var candidate = Path.Combine(dir, "mosquitto");
            if (File.Exists(candidate))
                return candidate;
        }

        return null;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(5000);
            }
        }
        finally
        {
            _process.Dispose();
            Directory.Delete(_directory, recursive: true);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class MosquittoCollection : ICollectionFixture<MosquittoBroker>
{
    public const string Name = "mosquitto";
}
