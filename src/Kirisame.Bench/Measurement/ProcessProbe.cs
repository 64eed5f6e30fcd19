using System.Diagnostics;

namespace Kirisame.Bench.Measurement;

/// The generator's own CPU use, so a report shows whether the generator was the bottleneck.
internal sealed class CpuMeter : IDisposable
{
    private readonly Process _self = Process.GetCurrentProcess();
    private TimeSpan _cpuStart;
    private long _wallStart;

    public void Start()
    {
        _self.Refresh();
        _cpuStart = _self.TotalProcessorTime;
        _wallStart = Stopwatch.GetTimestamp();
    }

    public CpuUse Stop()
    {
        _self.Refresh();
        var cpu = _self.TotalProcessorTime - _cpuStart;
        var wall = Stopwatch.GetElapsedTime(_wallStart);
        return new CpuUse(cpu.TotalSeconds, wall.TotalSeconds, Environment.ProcessorCount);
    }

    public void Dispose() => _self.Dispose();
}

/// CPU seconds over wall seconds; <see cref="Cores"/> is what this process may run on (affinity respected).
public readonly record struct CpuUse(double CpuSeconds, double WallSeconds, int Cores)
{
    /// Cores kept busy on average (1.0 = one core fully used).
    public double BusyCores => WallSeconds > 0 ? CpuSeconds / WallSeconds : 0;

    /// Share of the cores available to the generator, 0..1. Near 1 means the generator was the bottleneck.
    public double Utilisation => Cores > 0 ? BusyCores / Cores : 0;
}

internal static class BrokerProcess
{
    // /proc reports CPU time in USER_HZ ticks, which Linux fixes at 100 per second for user space.
    private const double TicksPerSecond = 100;

    /// User plus system CPU seconds a process has used, from /proc/PID/stat; null when it cannot be read.
    public static double? ReadCpuSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) is in parentheses and may hold spaces; count fields after it.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var user = long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture);
            var system = long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
            return (user + system) / TicksPerSecond;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// VmRSS of a process in bytes, from /proc/PID/status; null when it cannot be read.
    public static long? ReadRss(int pid)
    {
        try
        {
            return ParseVmRss(File.ReadAllText($"/proc/{pid}/status"));
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }

    /// The VmRSS line of a /proc/PID/status text ("VmRSS:\t  123456 kB") in bytes; null when there is none
    /// (a kernel thread, or a process that has exited but not been reaped) or it is not a number of kB.
    public static long? ParseVmRss(string status)
    {
        foreach (var line in status.AsSpan().EnumerateLines())
        {
            if (!line.StartsWith("VmRSS:", StringComparison.Ordinal))
                continue;
            var value = line["VmRSS:".Length..].Trim();
            var space = value.IndexOfAny(' ', '\t');
            if (space < 0 || !value[(space + 1)..].Trim().SequenceEqual("kB"))
                return null;
            return long.TryParse(value[..space], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var kib)
                ? kib * 1024
                : null;
        }

        return null;
    }
}
