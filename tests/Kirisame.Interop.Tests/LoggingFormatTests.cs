using System.Text.Json;
using System.Text.RegularExpressions;
using Kirisame.Testing;

namespace Kirisame.Interop.Tests;

/// Issue 17, item 6: log lines carry the date and the UTC offset (ISO 8601) and no .NET event ids
/// ("BrokerLifecycle[1211495886]"); a log file is available as a target; a path that cannot be written is a bad
/// setting (exit 2, the key named, no stack trace); the json format still works.
public sealed partial class LoggingFormatTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2} (trace|debug|info|warn|error|crit) +[A-Za-z][\w.]*: ")]
    private static partial Regex LineStart();

    [GeneratedRegex(@"^\S+ \S+ +[\w.]+\[\d+\]")]
    private static partial Regex EventId();

    [Fact]
    public async Task ConsoleLines_AreDatedWithTheOffset_AndCarryNoEventIds()
    {
        await using var server = await KirisameProcess.StartAsync(["--Broker:SysInterval", "0"]);
        var listening = await server.Process.WaitForLineAsync(l => l.Contains("Listening for MQTT", StringComparison.Ordinal), s_timeout);
        Assert.True(listening is not null, server.Describe());

        // An entry's further lines (an exception, the start-up block) are indented under its first.
        var lines = server.Process.StdoutLines.Where(l => l.Length > 0 && !l.StartsWith("  ", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(lines);
        Assert.All(lines, line => Assert.Matches(LineStart(), line));
        Assert.All(lines, line => Assert.DoesNotMatch(EventId(), line));
    }

    [Fact]
    public async Task LogFile_GetsTheSameLines()
    {
        var folder = Directory.CreateTempSubdirectory("kirisame-log-").FullName;
        try
        {
            var path = Path.Combine(folder, "logs", "kirisame.log"); // the folder is made
            await using (var server = await KirisameProcess.StartAsync(["--Broker:SysInterval", "0", "--Logging:File:Path", path]))
            {
                var written = await Poll.UntilAsync(() => File.Exists(path) && ReadShared(path).Contains("Listening for MQTT", StringComparison.Ordinal), s_timeout);
                Assert.True(written, $"the log file did not get the start-up lines\n{server.Describe()}");
            }

            var lines = ReadShared(path).Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith("  ", StringComparison.Ordinal));
            Assert.All(lines, line => Assert.Matches(LineStart(), line));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task StartUp_SaysInOneBlockWhatTheServerRunsWith()
    {
        await using var server = await KirisameProcess.StartAsync(["--in-memory", "--Broker:SysInterval", "0", "--Broker:MaxQueuedMessages", "5000"]);
        var ready = await server.Process.WaitForLineAsync(l => l.Contains("is ready", StringComparison.Ordinal), s_timeout);
        Assert.True(ready is not null, server.Describe());
        Assert.Matches(LineStart(), ready);
        // The block is one log entry of several lines, but they reach the test's capture one by one: wait for its last.
        Assert.NotNull(await server.Process.WaitForLineAsync(l => l.StartsWith("  settings", StringComparison.Ordinal), s_timeout));

        var block = server.Process.StdoutLines.SkipWhile(l => !l.Contains("is ready", StringComparison.Ordinal)).Skip(1)
            .TakeWhile(l => l.StartsWith("  ", StringComparison.Ordinal)).ToList();
        var port = server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains(block, l => l == $"  listener tcp: mqtt://127.0.0.1:{port}; no password file, anonymous allowed; no ACL (everything allowed)");
        Assert.Contains(block, l => l == "  store: in memory (nothing survives a restart)");
        Assert.Contains(block, l => l.StartsWith("  settings that differ from the defaults: ", StringComparison.Ordinal)
            && l.Contains("Broker:MaxQueuedMessages=5000", StringComparison.Ordinal) && l.Contains("Broker:SysInterval=0", StringComparison.Ordinal));
    }

    [Fact]
    public async Task LogFileThatCannotBeOpened_ExitsTwo_NamingTheKey()
    {
        var result = await KirisameProcess.RunToCompletionAsync(
            ["--in-memory", "--port", "0", "--Logging:File:Path", "/proc/no-such-folder/kirisame.log"], s_timeout);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("Logging:File:Path", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr + result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JsonFormat_WritesOneJsonObjectPerLine()
    {
        await using var server = await KirisameProcess.StartAsync(
            ["--Broker:SysInterval", "0", "--Logging:Console:FormatterName", "json", "--Logging:Console:FormatterOptions:SingleLine", "true"]);
        var line = await server.Process.WaitForLineAsync(l => l.Contains("Listening for MQTT", StringComparison.Ordinal), s_timeout);
        Assert.True(line is not null, server.Describe());
        using var json = JsonDocument.Parse(line);
        Assert.Equal("Information", json.RootElement.GetProperty("LogLevel").GetString());
    }

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
