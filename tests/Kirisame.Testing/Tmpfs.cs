using System.Globalization;

namespace Kirisame.Testing;

/// A small tmpfs mounted on a fresh temporary folder: a disk that can be filled without touching the machine's
/// own. Mounting needs root on Linux; <see cref="WhyUnavailable"/> says why it cannot be done here.
public sealed class Tmpfs : IAsyncDisposable
{
    /// scripts/test.sh sets this to 1 when it runs as root, so that a test needing a mount fails (with the
    /// reason) instead of being skipped: CI must not lose the disk-full test silently.
    public const string RequireVariable = "KIRISAME_REQUIRE_MOUNT";

    private static readonly TimeSpan s_toolTimeout = TimeSpan.FromSeconds(20);
    private static readonly Lazy<string?> s_whyUnavailable = new(Probe);

    private Tmpfs(string path) => Path = path;

    public string Path { get; }

    public static bool Required => Environment.GetEnvironmentVariable(RequireVariable) == "1";

    /// Null when a tmpfs can be mounted here, else the reason it cannot (checked once, by mounting one).
    public static string? WhyUnavailable => s_whyUnavailable.Value;

    public static async Task<Tmpfs> MountAsync(int sizeMegabytes)
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "kirisame-tmpfs-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        var size = "size=" + sizeMegabytes.ToString(CultureInfo.InvariantCulture) + "m";
        var mount = await Tools.RunAsync("mount", ["-t", "tmpfs", "-o", size, "tmpfs", path], s_toolTimeout);
        if (mount.ExitCode != 0)
        {
            Directory.Delete(path);
            throw new InvalidOperationException($"cannot mount a tmpfs on {path}:\n{mount}");
        }
        return new Tmpfs(path);
    }

    /// Unmounts (lazily if something still holds a file open) and removes the mount point.
    public async ValueTask DisposeAsync()
    {
        var unmount = await Tools.RunAsync("umount", [Path], s_toolTimeout);
        if (unmount.ExitCode != 0)
            unmount = await Tools.RunAsync("umount", ["-l", Path], s_toolTimeout);
        if (unmount.ExitCode == 0)
            Directory.Delete(Path);
    }

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux())
            return "mounting a tmpfs needs Linux";
        var uid = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal))?
            .Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(2); // effective uid
        if (uid != "0")
            return $"mounting a tmpfs needs root (effective uid {uid ?? "unknown"}); run as root, as CI does";
        try
        {
            var probe = MountAsync(1).GetAwaiter().GetResult();
            probe.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return null;
        }
        catch (InvalidOperationException ex)
        {
            return ex.Message;
        }
    }
}
