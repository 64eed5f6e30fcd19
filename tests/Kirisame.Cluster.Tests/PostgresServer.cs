using System.Globalization;

namespace Kirisame.Cluster.Tests;

/// A throwaway PostgreSQL server: initdb in a temporary folder and postgres on a free loopback port, with its unix
/// socket in that folder too, trusting local connections. initdb and postgres refuse to run as root, so as root (CI)
/// both run as the `postgres` user that Debian's postgresql package creates, through runuser.
internal sealed class PostgresServer : IAsyncDisposable
{
    private readonly DirectoryInfo _folder;
    private readonly ExternalProcess _server;

    private PostgresServer(DirectoryInfo folder, ExternalProcess server, int port)
    {
        _folder = folder;
        _server = server;
        Port = port;
    }

    public int Port { get; }

    /// Npgsql's connection string for the superuser `kirisame` on database `postgres`.
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=kirisame;Database=postgres";

    public string Describe() => _server.Describe();

    public static async Task<PostgresServer> StartAsync()
    {
        var bin = PostgresFactAttribute.BinDirectory ?? throw new InvalidOperationException(PostgresFactAttribute.Missing);
        var folder = Directory.CreateTempSubdirectory("kirisame-pg-");
        try
        {
            if (PostgresFactAttribute.AsRoot)
                await RunAsync("/usr/bin/chown", ["postgres", folder.FullName]);
            var data = Path.Combine(folder.FullName, "data");
            await RunAsync(Path.Combine(bin, "initdb"), ["-D", data, "-U", "kirisame", "--auth=trust", "-E", "UTF8", "--no-sync"]);
            for (var attempt = 0; ; attempt++)
            {
                var port = FreePort.GetLoopbackPort();
                var (file, arguments) = Command(Path.Combine(bin, "postgres"), ["-D", data, "-p", port.ToString(CultureInfo.InvariantCulture),
                    "-k", folder.FullName, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]);
                var server = ExternalProcess.Start(file, arguments);
                if (await FreePort.WaitUntilAcceptingAsync(port, TimeSpan.FromSeconds(30), () => server.HasExited))
                    return new PostgresServer(folder, server, port);
                await server.DisposeAsync();
                if (attempt == 2) // a port taken between choosing and binding it is tried again
                    throw new InvalidOperationException($"postgres did not start:\n{server.Describe()}");
            }
        }
        catch
        {
            folder.Delete(recursive: true);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        // SIGINT is postgres's fast shutdown (runuser passes a signal on as SIGTERM, a smart shutdown: the nodes have gone).
        if (!_server.HasExited)
        {
            _server.Signal("INT");
            await _server.WaitForExitAsync(TimeSpan.FromSeconds(10));
        }
        await _server.DisposeAsync();
        _folder.Delete(recursive: true);
    }

    private static (string File, string[] Arguments) Command(string file, string[] arguments) =>
        PostgresFactAttribute.AsRoot ? ("/usr/sbin/runuser", ["-u", "postgres", "--", file, .. arguments]) : (file, arguments);

    private static async Task RunAsync(string file, string[] arguments)
    {
        var (command, all) = file.EndsWith("chown", StringComparison.Ordinal) ? (file, arguments) : Command(file, arguments);
        var result = await Tools.RunAsync(command, all, TimeSpan.FromSeconds(60));
        if (result.ExitCode != 0)
            throw new InvalidOperationException(result.ToString());
    }
}

/// A test that needs PostgreSQL's server binaries (PATH or Debian's /usr/lib/postgresql/N/bin) and, as root, a
/// `postgres` user; skipped, saying so, where they are missing (scripts/test.sh installs Debian's postgresql).
internal sealed class PostgresFactAttribute : FactAttribute
{
    public const string Missing = "PostgreSQL is not installed: no initdb on PATH or in /usr/lib/postgresql/*/bin (apt-get install postgresql; scripts/test.sh installs it)";

    public static readonly string? BinDirectory = FindBinDirectory();

    public static readonly bool AsRoot = Environment.UserName == "root";

    public PostgresFactAttribute()
    {
        if (BinDirectory is null)
            Skip = Missing;
        else if (AsRoot && !File.Exists("/usr/sbin/runuser"))
            Skip = "Running as root, and /usr/sbin/runuser is missing to start PostgreSQL as the postgres user";
        else if (AsRoot && !File.ReadLines("/etc/passwd").Any(l => l.StartsWith("postgres:", StringComparison.Ordinal)))
            Skip = "Running as root, and there is no postgres user to start PostgreSQL as (Debian's postgresql package creates it)";
    }

    private static string? FindBinDirectory()
    {
        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            if (File.Exists(Path.Combine(folder, "initdb")) && File.Exists(Path.Combine(folder, "postgres")))
                return folder;
        }

        const string debian = "/usr/lib/postgresql";
        return Directory.Exists(debian)
            ? Directory.GetDirectories(debian).Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "initdb")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var version) ? version : 0)
                .FirstOrDefault()
            : null;
    }
}
