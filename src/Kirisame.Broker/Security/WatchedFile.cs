using Microsoft.Extensions.Logging;

namespace Kirisame.Broker.Security;

/// A file parsed into <typeparamref name="T"/> and re-read when it changes on disk. Changes are noticed on
/// use, by comparing modification time and size at most once per <see cref="CheckInterval"/>: no watcher
/// thread, no inotify limits, and an editor's write-then-rename is seen like any other change. A file that
/// no longer parses (or has gone) keeps the previous contents in force and the error is logged, so a typo
/// during an edit never opens or closes the broker by accident.
public static class WatchedFile
{
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);

    // Weak: a file that nothing uses any more (a test's, a replaced configuration's) is not kept alive by this list.
    private static readonly List<WeakReference<Action>> s_rereads = [];

    /// Re-reads every watched file now, changed or not (the server's SIGHUP, `systemctl reload`); returns how
    /// many there were. A file that cannot be used keeps its previous contents, as on any other re-read.
    public static int RereadAll()
    {
        List<Action> rereads = [];
        lock (s_rereads)
        {
            s_rereads.RemoveAll(r => !r.TryGetTarget(out _));
            foreach (var reference in s_rereads)
            {
                if (reference.TryGetTarget(out var reread))
                    rereads.Add(reread);
            }
        }

        foreach (var reread in rereads)
            reread();
        return rereads.Count;
    }

    internal static void Register(Action reread)
    {
        lock (s_rereads)
            s_rereads.Add(new WeakReference<Action>(reread));
    }

    /// Reads and parses the file now. Throws (FormatException, IOException) when it cannot: at start-up a
    /// broken security file must stop the server, not be ignored.
    public static WatchedFile<T> Load<T>(string path, Func<string, T> parse, ILogger logger, TimeProvider? time = null) where T : class
    {
        var stamp = WatchedFile<T>.Stamp(path);
        var value = parse(File.ReadAllText(path));
        return new WatchedFile<T>(path, parse, logger, time ?? TimeProvider.System, value, stamp);
    }
}

public sealed class WatchedFile<T> where T : class
{
    private static readonly TimeSpan s_checkInterval = WatchedFile.CheckInterval;

    private readonly Func<string, T> _parse;
    private readonly Action _reread; // held here: the registry only references it weakly
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _reload = new();
    private T _current;
    private (DateTime Written, long Length) _stamp;
    private long _nextCheckTicks;

    internal WatchedFile(string path, Func<string, T> parse, ILogger logger, TimeProvider time, T current, (DateTime, long) stamp)
    {
        Path = path;
        _parse = parse;
        _logger = logger;
        _time = time;
        _current = current;
        _stamp = stamp;
        _nextCheckTicks = time.GetTimestamp() + (long)(s_checkInterval.TotalSeconds * time.TimestampFrequency);
        _reread = () => ReloadNow();
        WatchedFile.Register(_reread);
    }

    public string Path { get; }

    /// The contents in force, re-read first if the file changed since the last check.
    public T Current
    {
        get
        {
            var now = _time.GetTimestamp();
            if (now >= Volatile.Read(ref _nextCheckTicks))
                Refresh(now, force: false);
            return Volatile.Read(ref _current);
        }
    }

    /// Re-reads the file now, changed or not (an operator's "reload"): null when its contents are in force, else why
    /// not (the previous contents stay in force).
    public string? ReloadNow() => Refresh(_time.GetTimestamp(), force: true);

    /// Re-reads the file if it changed (or always, when forced); returns why it could not be used, or null.
    private string? Refresh(long now, bool force)
    {
        if (force)
            _reload.Enter(); // a reread asked for must happen, after one in progress
        else if (!_reload.TryEnter())
            return null; // another thread is re-reading; use what is in force meanwhile
        try
        {
            Volatile.Write(ref _nextCheckTicks, now + (long)(s_checkInterval.TotalSeconds * _time.TimestampFrequency));
            (DateTime, long) stamp;
            try
            {
                stamp = Stamp(Path);
            }
            catch (IOException ex)
            {
                _logger.LogError("{Path} cannot be read ({Message}); keeping the previous contents", Path, ex.Message);
                return ex.Message;
            }

            if (stamp == _stamp && !force)
                return null;
            try
            {
                var value = _parse(File.ReadAllText(Path));
                Volatile.Write(ref _current, value);
                _stamp = stamp;
                _logger.LogInformation("Reloaded {Path}", Path);
                return null;
            }
            catch (Exception ex) when (ex is FormatException or IOException or UnauthorizedAccessException)
            {
                // Remember the stamp so the same broken file is not re-parsed (and logged) every second.
                _stamp = stamp;
                _logger.LogError("{Path} changed but cannot be used ({Message}); keeping the previous contents", Path, ex.Message);
                return ex.Message;
            }
        }
        finally
        {
            _reload.Exit();
        }
    }

    internal static (DateTime, long) Stamp(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
            throw new FileNotFoundException($"{path} does not exist", path);
        return (info.LastWriteTimeUtc, info.Length);
    }
}
