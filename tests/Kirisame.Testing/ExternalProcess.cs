using System.Diagnostics;
using System.Text;

namespace Kirisame.Testing;

/// A child process whose stdout and stderr are captured line by line, so tests can wait for output with a
/// deadline and show everything the process said when an assertion fails. Disposing kills the process tree.
public sealed class ExternalProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];
    private readonly Lock _gate = new();
    private TaskCompletionSource _changed = NewSignal();

    private ExternalProcess(Process process) => _process = process;

    public int Id => _process.Id;

    public string CommandLine { get; private init; } = "";

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public static ExternalProcess Start(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        // A developer's own KIRISAME__ settings must not change what the tests see.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("KIRISAME__", StringComparison.OrdinalIgnoreCase)).ToList())
            info.Environment.Remove(key);
        if (environment is not null)
        {
            foreach (var (key, value) in environment)
                info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var result = new ExternalProcess(process) { CommandLine = $"{fileName} {string.Join(' ', info.ArgumentList)}" };
        process.OutputDataReceived += (_, e) => result.Append(result._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => result.Append(result._stderr, e.Data);
        process.Exited += (_, _) => result.Signal();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return result;
    }

    /// Writes to the process's standard input and closes it.
    public async Task WriteInputAsync(string text)
    {
        await _process.StandardInput.WriteAsync(text);
        _process.StandardInput.Close();
    }

    public IReadOnlyList<string> StdoutLines
    {
        get
        {
            lock (_gate)
                return [.. _stdout];
        }
    }

    public string Stdout => string.Join('\n', StdoutLines);

    public string Stderr
    {
        get
        {
            lock (_gate)
                return string.Join('\n', _stderr);
        }
    }

    /// Everything the process printed, for failure messages.
    public string Describe() =>
        $"$ {CommandLine}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}\n" +
        (_process.HasExited ? $"--- exited with {_process.ExitCode} ---" : "--- still running ---");

    /// Waits for a stdout line matching predicate; returns it, or null when the deadline passes or the
    /// process exits without printing one.
    public async Task<string?> WaitForLineAsync(Func<string, bool> predicate, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var seen = 0;
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                for (; seen < _stdout.Count; seen++)
                {
                    if (predicate(_stdout[seen]))
                        return _stdout[seen];
                }
                changed = _changed.Task;
            }
            if (_process.HasExited)
            {
                // The exit can be signalled before the last lines are read; let the reader drain.
                await _process.WaitForExitAsync();
                lock (_gate)
                {
                    for (; seen < _stdout.Count; seen++)
                    {
                        if (predicate(_stdout[seen]))
                            return _stdout[seen];
                    }
                }
                return null;
            }
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                return null;
            await Task.WhenAny(changed, Task.Delay(left));
        }
    }

    /// Waits for the process to exit; false if it is still running at the deadline.
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            // Also waits for the redirected streams to reach end of file.
            await _process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// SIGTERM, as a service manager or `docker stop` sends it (via the shell's kill builtin: .NET has no API
    /// for sending a signal to another process).
    public void Terminate() => Signal("TERM");

    /// Sends the signal of that name (TERM, STOP, CONT, …) to the process.
    public void Signal(string name)
    {
        var pid = _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var kill = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", "kill -\"$1\" \"$2\"", "sh", name, pid])
        {
            UseShellExecute = false,
        })!;
        kill.WaitForExit();
        if (kill.ExitCode != 0)
            throw new InvalidOperationException($"kill -{name} {pid} failed with exit code {kill.ExitCode}.");
    }

    /// SIGKILL, by process id: no clean-up, as a crash or a pulled plug.
    public void Kill() => _process.Kill();

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
            await WaitForExitAsync(TimeSpan.FromSeconds(10));
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }
        _process.Dispose();
    }

    private void Append(List<string> lines, string? line)
    {
        if (line is null)
            return;
        lock (_gate)
            lines.Add(line);
        Signal();
    }

    private void Signal()
    {
        TaskCompletionSource previous;
        lock (_gate)
        {
            previous = _changed;
            _changed = NewSignal();
        }
        previous.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
