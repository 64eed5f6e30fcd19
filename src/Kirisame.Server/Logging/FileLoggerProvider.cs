using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Kirisame.Server.Logging;

/// A log file (`Logging:File:Path`), in the console's `kirisame` format, for hosts without journald or a
/// container runtime collecting standard output. Lines are queued and appended by one background task, so a
/// slow disk never blocks the thread that logs; a bounded queue drops lines (and says how many, in the file)
/// rather than grow without end. The file is opened for appending and shared for reading, so `tail -f` and log
/// rotation by copy-and-truncate work; it is flushed after each batch.
[ProviderAlias("File")]
internal sealed class FileLoggerProvider : ILoggerProvider
{
    public const string PathKey = "Logging:File:Path";

    private const int QueueLength = 10_000;

    private readonly Channel<string> _lines = Channel.CreateBounded<string>(new BoundedChannelOptions(QueueLength)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });

    private readonly ConcurrentDictionary<string, FileLogger> _loggers = new(StringComparer.Ordinal);
    private readonly StreamWriter _writer;
    private readonly Task _writing;
    private long _dropped;

    public FileLoggerProvider(string path)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null)
            Directory.CreateDirectory(folder);
        var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        _writer = new StreamWriter(stream) { AutoFlush = false };
        _writing = Task.Run(WriteAsync);
    }

    public ILogger CreateLogger(string categoryName) => _loggers.GetOrAdd(categoryName, static (name, provider) => new FileLogger(name, provider), this);

    private void Enqueue(string line)
    {
        if (!_lines.Writer.TryWrite(line))
            Interlocked.Increment(ref _dropped);
    }

    private async Task WriteAsync()
    {
        while (await _lines.Reader.WaitToReadAsync())
        {
            while (_lines.Reader.TryRead(out var line))
                await _writer.WriteAsync(line);
            if (Interlocked.Exchange(ref _dropped, 0) is > 0 and var dropped)
                await _writer.WriteAsync(LogLine.Format(DateTimeOffset.Now, LogLevel.Warning, "Kirisame.Logging", $"{dropped} log lines were dropped: the file could not keep up", null));
            await _writer.FlushAsync();
        }
    }

    public void Dispose()
    {
        _lines.Writer.TryComplete();
        _writing.Wait(TimeSpan.FromSeconds(5));
        _writer.Dispose();
    }

    private sealed class FileLogger(string category, FileLoggerProvider provider) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
                return;
            provider.Enqueue(LogLine.Format(DateTimeOffset.Now, logLevel, category, formatter(state, exception), exception));
        }
    }
}
