using Kirisame.Testing;

namespace Kirisame.Packaging.Tests;

/// The server copied without its runtimes/ folder (as copying kirisame.dll or a publish folder's top level
/// alone does): no RocksDB native library anywhere it looks.
public sealed class MissingNativeLibraryTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    [Fact]
    public async Task WithoutRocksDbsNativeLibrary_StartFails_WithAClearMessage_NamingInMemory()
    {
        var app = Path.Combine(_folder.Path, "app");
        Directory.CreateDirectory(app);
        foreach (var file in Directory.EnumerateFiles(Path.GetDirectoryName(KirisameProcess.ServerDll)!))
            File.Copy(file, Path.Combine(app, Path.GetFileName(file)));

        var result = await Tools.RunAsync(KirisameProcess.DotnetHost,
            [Path.Combine(app, "kirisame.dll"), "--port", FreePort.GetLoopbackPort().ToString(System.Globalization.CultureInfo.InvariantCulture),
             "--Management:Enabled", "false", "--data-dir", Path.Combine(_folder.Path, "data")],
            TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("RocksDB's native library (librocksdb) could not be loaded", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("--in-memory", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal); // no stack trace
        Assert.DoesNotContain("Unhandled exception", result.Stderr, StringComparison.Ordinal);
    }

    public void Dispose() => _folder.Dispose();
}
