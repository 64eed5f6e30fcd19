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

        var lines = server.Process.StdoutLines.Where(l => l.Length > 0).ToList();
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

            var lines = ReadShared(path).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.All(lines, line => Assert.Matches(LineStart(), line));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
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
