using Kirisame.Testing;

namespace Kirisame.Packaging.Tests;

/// `dotnet publish -r linux-x64 -p:PublishSingleFile=true` (of a copy of the sources), and its output copied
/// alone into an empty folder, as a user would copy it to /usr/local/bin.
public sealed class SingleFileFixture : IAsyncLifetime, IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public string PublishFolder => Path.Combine(_folder.Path, "publish");

    /// The single file, alone in its folder.
    public string Command => Path.Combine(_folder.Path, "empty", "kirisame");

    public string Folder => _folder.Path;

    /// Where the runtime extracts the bundled native libraries (instead of ~/.net): left behind by nothing.
    public IReadOnlyDictionary<string, string?> Environment => new Dictionary<string, string?>
    {
        ["DOTNET_BUNDLE_EXTRACT_BASE_DIR"] = Path.Combine(_folder.Path, "extract"),
    };

    public async Task InitializeAsync()
    {
        var sources = Path.Combine(_folder.Path, "sources");
        Directory.CreateDirectory(sources);
        var project = SourceCopy.Make(sources);
        await Repository.DotnetAsync(
            ["publish", project, "-c", "Release", "-r", "linux-x64", "-p:PublishSingleFile=true", "-o", PublishFolder],
            TimeSpan.FromMinutes(15));
        Directory.CreateDirectory(Path.GetDirectoryName(Command)!);
        File.Copy(Path.Combine(PublishFolder, "kirisame"), Command);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => _folder.Dispose();
}

public sealed class SingleFileTests(SingleFileFixture build) : IClassFixture<SingleFileFixture>
{
    /// The README gives the size; it grows past this only with a new dependency someone should look at.
    private const long MaximumBytes = 70L * 1024 * 1024;

    [Fact]
    public void Publish_MakesOneFile()
    {
        var files = Directory.GetFiles(build.PublishFolder).Select(Path.GetFileName).ToList();
        Assert.Equal(["kirisame"], files);
        var size = new FileInfo(build.Command).Length;
        Assert.True(size < MaximumBytes, $"kirisame is {size / 1024 / 1024} MB");
    }

    [Fact]
    public async Task SingleFile_FromAnEmptyFolder_PrintsItsVersion()
    {
        var result = await Tools.RunAsync(build.Command, ["--version"], TimeSpan.FromSeconds(60), build.Environment);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("kirisame 0.", result.Stdout, StringComparison.Ordinal);
    }

    /// RocksDB's native library comes out of the file itself: nothing beside it, nothing installed.
    [Fact]
    public async Task SingleFile_FromAnEmptyFolder_ServesARoundTrip_WithRocksDb()
    {
        var data = Path.Combine(build.Folder, "data-" + Guid.NewGuid().ToString("N")[..8]);
        await using var broker = await KirisameProcess.StartCommandAsync([build.Command], 0, _ => ["--data-dir", data], build.Environment);
        await RoundTrip.AssertAsync(broker);
        Assert.True(File.Exists(Path.Combine(data, "CURRENT")), broker.Describe());
    }
}
