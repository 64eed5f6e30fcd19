namespace Kirisame.Testing;

public sealed record ToolResult(string CommandLine, int ExitCode, string Stdout, string Stderr, bool TimedOut)
{
    public override string ToString() =>
        $"$ {CommandLine}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}\n" +
        (TimedOut ? "--- killed: timed out ---" : $"--- exited with {ExitCode} ---");
}

/// Runs command-line clients (mosquitto_pub/sub, python) with a deadline, capturing their output.
public static class Tools
{
    /// Debian's python3: the paho-mqtt package is installed for it, not for a pyenv python earlier on PATH.
    public const string Python = "/usr/bin/python3";

    public static async Task<ToolResult> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        await using var process = ExternalProcess.Start(fileName, arguments, environment);
        var exited = await process.WaitForExitAsync(timeout);
        return new ToolResult(process.CommandLine, exited ? process.ExitCode : -1, process.Stdout, process.Stderr, !exited);
    }

    /// The first existing candidate path, else the first directory on PATH holding name.
    public static string Find(string name, params string[] candidates)
    {
        foreach (var candidate in candidates)
        {
            if (File.Exists(candidate))
                return candidate;
        }
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            var path = Path.Combine(directory, name);
            if (directory.Length > 0 && File.Exists(path))
                return path;
        }
        throw new FileNotFoundException($"{name} is not installed (scripts/test.sh installs it).", name);
    }
}
