using System.Runtime.InteropServices;

namespace Kirisame.Transport.Listeners;

/// The process's limit on open file descriptors (RLIMIT_NOFILE). Every connection is one descriptor, so
/// this is the real ceiling on connections: past it accept fails with EMFILE and so does everything else
/// that opens a file (the store, the runtime), which is how an unlimited broker died in production.
internal static partial class DescriptorLimit
{
    private const int RlimitNoFile = 7; // Linux, every architecture .NET runs on

    [StructLayout(LayoutKind.Sequential)]
    private struct Rlimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRlimit(int resource, out Rlimit limit);

    /// The soft limit now, or null when unknown (not Linux) or unlimited. Read at run time, not assumed:
    /// the .NET runtime raises the soft limit to the hard one as it starts, so `ulimit -n` in the shell that
    /// started us says less than what applies.
    public static long? Read()
    {
        // rlim_t is 64-bit on the 64-bit Linux targets .NET supports; elsewhere the limit is not known.
        if (!OperatingSystem.IsLinux() || IntPtr.Size != 8)
            return null;
        try
        {
            if (GetRlimit(RlimitNoFile, out var limit) != 0)
                return null;
            return limit.Current >= long.MaxValue ? null : (long)limit.Current; // RLIM_INFINITY
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }
}
