using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Kirisame.Server.Logging;

/// A log target written by one background task: entries are formatted on the thread that logs and queued, so a
/// slow disk or socket never blocks it; a bounded queue drops entries (and says how many, through the target
/// itself) rather than grow without end. Subclasses say how an entry looks and where it goes.
internal abstract class QueuedLoggerProvider : ILoggerProvider
{
    private const int QueueLength = 10_000;

    private readonly Channel<string> _entries = Channel.CreateBounded<string>(new BoundedChannelOptions(QueueLength)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });

    private readonly ConcurrentDictionary<string, QueuedLogger> _loggers = new(StringComparer.Ordinal);
    private Task _writing = Task.CompletedTask;
    private long _dropped;

    public ILogger CreateLogger(string categoryName) => _loggers.GetOrAdd(categoryName, static (name, provider) => new QueuedLogger(name, provider), this);

    /// Starts the background writer; called by the subclass once its target is open.
    protected void Start() => _writing = Task.Run(DrainAsync);

    /// One entry as the target wants it.
    protected abstract string Format(DateTimeOffset time, LogLevel level, string category, string message, Exception? exception);

    protected abstract ValueTask WriteAsync(string entry);

    /// After each batch.
    protected virtual ValueTask FlushAsync() => ValueTask.CompletedTask;

    /// Closes the target, after the queue has drained.
    protected abstract void Close();

    private async Task DrainAsync()
    {
        while (await _entries.Reader.WaitToReadAsync())
        {
            while (_entries.Reader.TryRead(out var entry))
                await WriteAsync(entry);
            if (Interlocked.Exchange(ref _dropped, 0) is > 0 and var dropped)
                await WriteAsync(Format(DateTimeOffset.Now, LogLevel.Warning, "Kirisame.Logging", $"{dropped} log lines were dropped: the target could not keep up", null));
            await FlushAsync();
        }
    }

    public void Dispose()
    {
        _entries.Writer.TryComplete();
        _writing.Wait(TimeSpan.FromSeconds(5));
        Close();
    }

    private sealed class QueuedLogger(string category, QueuedLoggerProvider provider) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
                return;
            var entry = provider.Format(DateTimeOffset.Now, logLevel, category, formatter(state, exception), exception);
            if (!provider._entries.Writer.TryWrite(entry))
                Interlocked.Increment(ref provider._dropped);
        }
    }
}
