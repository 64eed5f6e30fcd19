using System.Diagnostics;

namespace Kirisame.Protocol.Fuzz;

/// Saves an input that runs too long, and ends the process. Under afl-fuzz a timeout kills SharpFuzz's
/// in-process fork server itself, so afl-fuzz stops without saving the input (it travels in shared memory, not
/// a file): this keeps it for fuzz/run.sh to report. Costs two timestamps per input.
internal sealed class HangWatchdog
{
    private readonly TimeSpan _limit;
    private readonly string _path;
    private readonly Func<byte[]> _currentInput;
    private long _startedAt;

    private HangWatchdog(TimeSpan limit, string path, Func<byte[]> currentInput)
    {
        _limit = limit;
        _path = path;
        _currentInput = currentInput;
    }

    /// Null (no watchdog) unless <paramref name="path"/> is set.
    public static HangWatchdog? Start(string? path, TimeSpan limit, Func<byte[]> currentInput)
    {
        if (string.IsNullOrEmpty(path))
            return null;
        var watchdog = new HangWatchdog(limit, path, currentInput);
        new Thread(watchdog.Watch) { IsBackground = true, Name = "hang watchdog" }.Start();
        return watchdog;
    }

    public void Begin() => Volatile.Write(ref _startedAt, Stopwatch.GetTimestamp());

    public void End() => Volatile.Write(ref _startedAt, 0);

    private void Watch()
    {
        while (true)
        {
            Thread.Sleep(250);
            var startedAt = Volatile.Read(ref _startedAt);
            if (startedAt == 0 || Stopwatch.GetElapsedTime(startedAt) < _limit)
                continue;
            // The fuzzing thread is stuck inside the target, so the input buffer is not changing under us.
            var input = _currentInput();
            File.WriteAllBytes(_path, input);
            Console.Error.WriteLine($"An input ran longer than {_limit.TotalSeconds} s; saved to {_path}: {Convert.ToHexString(input)}");
            Environment.Exit(70);
        }
    }
}
