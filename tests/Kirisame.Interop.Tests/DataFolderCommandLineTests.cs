using Kirisame.Testing;

namespace Kirisame.Interop.Tests;

/// The real `kirisame` refuses a data folder it cannot use: a clear message and a non-zero exit, never a
/// silent start with empty state.
public sealed class DataFolderCommandLineTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kirisame-datadir-" + Guid.NewGuid().ToString("N"));

    public DataFolderCommandLineTests() => Directory.CreateDirectory(_root);

    public void Dispose()
    {
        if (Directory.Exists(_root))
            Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task SecondServer_OnTheSameFolder_IsRefused()
    {
        var dataDir = Path.Combine(_root, "data");
        await using var first = await KirisameProcess.StartAsync(["--data-dir", dataDir]);
        var second = await KirisameProcess.RunToCompletionAsync(["--port", "0", "--data-dir", dataDir], s_timeout);

        Assert.Equal(1, second.ExitCode);
        Assert.Contains("is in use by another process", second.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CorruptFolder_IsRefused()
    {
        var dataDir = Path.Combine(_root, "data");
        await using (var server = await KirisameProcess.StartAsync(["--data-dir", dataDir]))
        {
            server.Process.Terminate();
            Assert.True(await server.Process.WaitForExitAsync(TimeSpan.FromSeconds(20)), server.Describe());
        }

        foreach (var manifest in Directory.GetFiles(dataDir, "MANIFEST-*"))
            await File.WriteAllBytesAsync(manifest, [.. Enumerable.Repeat((byte)0x5A, 4096)]);
        var result = await KirisameProcess.RunToCompletionAsync(["--port", "0", "--data-dir", dataDir], s_timeout);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("is corrupt", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnusableFolders_AreRefused()
    {
        var file = Path.Combine(_root, "a-file");
        await File.WriteAllTextAsync(file, "not a folder");
        var other = Path.Combine(_root, "someone-elses");
        Directory.CreateDirectory(other);
        await File.WriteAllTextAsync(Path.Combine(other, "notes.txt"), "mine");

        var underFile = await KirisameProcess.RunToCompletionAsync(["--port", "0", "--data-dir", Path.Combine(file, "data")], s_timeout);
        var foreign = await KirisameProcess.RunToCompletionAsync(["--port", "0", "--data-dir", other], s_timeout);

        Assert.Equal(1, underFile.ExitCode);
        Assert.Contains("cannot create data folder", underFile.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, foreign.ExitCode);
        Assert.Contains("holds no Kirisame data", foreign.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadOnlyFolder_IsRefused_WhenPermissionsApply()
    {
        if (OperatingSystem.IsWindows() || Environment.UserName == "root")
            return; // root writes anywhere; the folder-under-a-file case above covers "cannot write" there
        var dataDir = Path.Combine(_root, "locked-down");
        Directory.CreateDirectory(dataDir);
        File.SetUnixFileMode(dataDir, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        try
        {
            var result = await KirisameProcess.RunToCompletionAsync(["--port", "0", "--data-dir", dataDir], s_timeout);
            Assert.Equal(1, result.ExitCode);
            Assert.Contains("data folder", result.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.SetUnixFileMode(dataDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    [Fact]
    public async Task BadDurability_IsAUsageError()
    {
        var result = await KirisameProcess.RunToCompletionAsync(["--durability", "sometimes"], s_timeout);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Storage:Durability must be one of Sync, Batched, None", result.Stderr, StringComparison.Ordinal);
    }
}
