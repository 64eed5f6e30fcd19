using System.Runtime.InteropServices;

namespace Kirisame.Interop.Tests.Transport;

/// A [Fact] about the epoll engine: it exists only on Linux x86-64 (elsewhere the server falls back to the
/// Sockets engine), and the tests look at the server through Linux's /proc.
public sealed class EpollFactAttribute : FactAttribute
{
    public EpollFactAttribute()
    {
        if (EpollEngine.WhyUnavailable is { } reason)
            Skip = reason;
    }
}

/// A [Theory] about the epoll engine; see <see cref="EpollFactAttribute"/>.
public sealed class EpollTheoryAttribute : TheoryAttribute
{
    public EpollTheoryAttribute()
    {
        if (EpollEngine.WhyUnavailable is { } reason)
            Skip = reason;
    }
}

internal static class EpollEngine
{
    /// Null where the epoll engine runs (the condition of the server's Epoll.IsSupported).
    public static string? WhyUnavailable =>
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64
            ? null
            : "the epoll engine needs Linux on x86-64";
}
