using System.Reflection;

namespace Kirisame.Testing;

/// The real `kirisame` server (the Kirisame.Server build output) on a free loopback port.
public sealed class KirisameProcess : IBrokerProcess
{
    public const string ServerDllVariable = "KIRISAME_SERVER_DLL";

    /// A cluster node accepts clients only once it joined: on two cores shared by several test runs (load 25–50) a
    /// join alone took 20–30 s, so 30 s failed cluster fixtures that were merely slow. A start that works returns at once.
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(60);

    private KirisameProcess(ExternalProcess process, int port)
    {
        Process = process;
        Port = port;
    }

    public string Name => "kirisame";

    public int Port { get; }

    public ExternalProcess Process { get; }

    /// kirisame.dll from the Kirisame.Server build of the same configuration (see Kirisame.Testing.csproj).
    public static string ServerDll
    {
        get
        {
            var path = Environment.GetEnvironmentVariable(ServerDllVariable);
            if (string.IsNullOrEmpty(path))
            {
                path = typeof(KirisameProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                    .Single(a => a.Key == "KirisameServerDll").Value!;
            }
            if (!File.Exists(path))
                throw new FileNotFoundException($"kirisame.dll not found at {path}; build src/Kirisame.Server in the same configuration or set {ServerDllVariable}.", path);
            return path;
        }
    }

    /// The dotnet host running these tests, so the server runs on the same runtime.
    public static string DotnetHost
    {
        get
        {
            var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
            if (!string.IsNullOrEmpty(host) && File.Exists(host))
                return host;
            var current = Environment.ProcessPath;
            if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet")
                return current;
            return "dotnet";
        }
    }

    /// Runs `kirisame` with the given arguments to completion (for --help, --version, bad configuration).
    public static async Task<ToolResult> RunToCompletionAsync(IEnumerable<string> arguments, TimeSpan timeout,
        IReadOnlyDictionary<string, string?>? environment = null) =>
        await Tools.RunAsync(DotnetHost, [ServerDll, .. arguments], timeout, environment);

    /// Starts `kirisame serve --port P --bind 127.0.0.1 [arguments]` (with --in-memory unless the arguments
    /// choose storage) and waits until the port accepts connections. A port stolen between choosing and binding it is retried with another.
    /// <paramref name="descriptorLimit"/> above 0 starts it under `prlimit --nofile=N:N` (util-linux), so a
    /// test can run it out of file descriptors cheaply.
    public static Task<KirisameProcess> StartAsync(IEnumerable<string>? arguments = null,
        IReadOnlyDictionary<string, string?>? environment = null, int descriptorLimit = 0)
    {
        string[] extra = [.. arguments ?? []];
        return StartAsync(0, _ => extra, environment, descriptorLimit);
    }

    /// Starts the server with <paramref name="extraPorts"/> more free loopback ports for other listeners:
    /// <paramref name="arguments"/> receives them and returns the extra arguments (e.g. --tls-port). Waits
    /// until every port accepts connections; ports stolen before binding are retried with fresh ones.
    public static async Task<KirisameProcess> StartAsync(int extraPorts, Func<int[], IEnumerable<string>> arguments,
        IReadOnlyDictionary<string, string?>? environment = null, int descriptorLimit = 0)
    {
        // prlimit sets the limit (soft and hard: the runtime raises the soft one to the hard one) and execs
        // the server, so the process id is the server's.
        string[] launcher = descriptorLimit > 0
            ? ["prlimit", $"--nofile={descriptorLimit}:{descriptorLimit}", DotnetHost, ServerDll]
            : [DotnetHost, ServerDll];
        return await StartCommandAsync(launcher, extraPorts, arguments, environment);
    }

    /// As <see cref="StartAsync(int, Func{int[], IEnumerable{string}}, IReadOnlyDictionary{string, string?}?, int)"/>
    /// with another way to run the server: <paramref name="command"/> (e.g. an installed tool or a published single
    /// file) takes the place of `dotnet kirisame.dll`.
    public static async Task<KirisameProcess> StartCommandAsync(string[] command, int extraPorts, Func<int[], IEnumerable<string>> arguments,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        string[] launcher = command;
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort.GetLoopbackPort();
            var ports = Enumerable.Range(0, extraPorts).Select(_ => FreePort.GetLoopbackPort()).ToArray();
            string[] extra = [.. arguments(ports)];
            // Tests that do not name a data folder get none: parallel servers must not share ./data.
            if (!extra.Any(a => a is "--data-dir" or "--in-memory" || a.StartsWith("--Storage:", StringComparison.OrdinalIgnoreCase)))
                extra = [.. extra, "--in-memory"];
            // Nor a management listener on its fixed port (parallel servers would fight over it), unless asked for.
            if (!extra.Any(a => a == "--management-port" || a.StartsWith("--Management:", StringComparison.OrdinalIgnoreCase)))
                extra = [.. extra, "--Management:Enabled", "false"];
            var process = ExternalProcess.Start(launcher[0],
                [.. launcher[1..], "serve", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", .. extra],
                environment);
            var accepting = true;
            foreach (var candidate in ports.Prepend(port))
                accepting = accepting && await FreePort.WaitUntilAcceptingAsync(candidate, s_startTimeout, () => process.HasExited);
            if (accepting)
                return new KirisameProcess(process, port) { ExtraPorts = ports };

            var exited = process.HasExited;
            var description = process.Describe();
            await process.DisposeAsync();
            if (exited && attempt < 3 && description.Contains("cannot listen", StringComparison.Ordinal))
                continue;
            throw new InvalidOperationException($"kirisame did not accept connections on port {port} (and {string.Join(", ", ports)}) within {s_startTimeout.TotalSeconds} s.\n{description}");
        }
    }

    /// The ports chosen for the listeners beyond the default one, in the order given to the arguments.
    public IReadOnlyList<int> ExtraPorts { get; private init; } = [];

    public string Describe() => Process.Describe();

    public ValueTask DisposeAsync() => Process.DisposeAsync();
}
