using Microsoft.Extensions.Logging;

namespace Kirisame.Transport.Tls;

/// A value loaded from a set of files (certificate + key, a CA bundle) and loaded again when any of them
/// changes. Checked on use, by modification time and size, at most once a second: a handshake costs at most
/// a few stat calls, and renewing a certificate (certbot, cert-manager) needs no restart and no signal.
/// A replacement that fails to load (say the key is written after the certificate) leaves the previous
/// value in force; it is retried on the next check.
internal sealed class ReloadingFiles<T> where T : class
{
    private static readonly TimeSpan s_checkInterval = TimeSpan.FromSeconds(1);

    private readonly string[] _paths;
    private readonly Func<T> _load;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _reload = new();
    private T _current;
    private (DateTime, long)[] _stamps;
    private long _nextCheckTicks;

    public ReloadingFiles(IEnumerable<string?> paths, Func<T> load, ILogger logger, TimeProvider? time = null)
    {
        _paths = [.. paths.OfType<string>().Distinct()];
        _load = load;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _stamps = Stamps();
        _current = load(); // at start-up a failure is the operator's to fix: let it throw
        _nextCheckTicks = _time.GetTimestamp() + (long)(s_checkInterval.TotalSeconds * _time.TimestampFrequency);
    }

    public T Current
    {
        get
        {
            var now = _time.GetTimestamp();
            if (now >= Volatile.Read(ref _nextCheckTicks) && _reload.TryEnter())
            {
                try
                {
                    Volatile.Write(ref _nextCheckTicks, now + (long)(s_checkInterval.TotalSeconds * _time.TimestampFrequency));
                    Refresh();
                }
                finally
                {
                    _reload.Exit();
                }
            }

            return Volatile.Read(ref _current);
        }
    }

    private void Refresh()
    {
        (DateTime, long)[] stamps;
        try
        {
            stamps = Stamps();
        }
        catch (IOException ex)
        {
            _logger.LogError("Cannot read {Files} ({Message}); keeping the previous contents", string.Join(", ", _paths), ex.Message);
            return;
        }

        if (stamps.AsSpan().SequenceEqual(_stamps))
            return;
        try
        {
            // The old value is not disposed: a handshake may be using it right now.
            Volatile.Write(ref _current, _load());
            _stamps = stamps;
            _logger.LogInformation("Reloaded {Files}", string.Join(", ", _paths));
        }
        catch (Exception ex)
        {
            _logger.LogError("{Files} changed but cannot be loaded ({Message}); keeping the previous contents", string.Join(", ", _paths), ex.Message);
        }
    }

    private (DateTime, long)[] Stamps()
    {
        var stamps = new (DateTime, long)[_paths.Length];
        for (var i = 0; i < _paths.Length; i++)
        {
            var info = new FileInfo(_paths[i]);
            if (!info.Exists)
                throw new FileNotFoundException($"{_paths[i]} does not exist", _paths[i]);
            stamps[i] = (info.LastWriteTimeUtc, info.Length);
        }

        return stamps;
    }
}
