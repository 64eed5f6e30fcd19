using Microsoft.Extensions.Logging;

namespace Kirisame.Server.Logging;

/// A log file (`Logging:File:Path`), in the console's `kirisame` format, for hosts without journald or a
/// container runtime collecting standard output. The file is opened for appending and shared for reading, so
/// `tail -f` and log rotation by copy-and-truncate work; it is flushed after each batch.
[ProviderAlias("File")]
internal sealed class FileLoggerProvider : QueuedLoggerProvider
{
    public const string PathKey = "Logging:File:Path";

    private readonly StreamWriter _writer;

    public FileLoggerProvider(string path)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null)
            Directory.CreateDirectory(folder);
        var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        _writer = new StreamWriter(stream) { AutoFlush = false };
        Start();
    }

    protected override string Format(DateTimeOffset time, LogLevel level, string category, string message, Exception? exception) =>
        LogLine.Format(time, level, category, message, exception);

    protected override async ValueTask WriteAsync(string entry) => await _writer.WriteAsync(entry);

    protected override async ValueTask FlushAsync() => await _writer.FlushAsync();

    protected override void Close() => _writer.Dispose();
}
