using Kirisame.Testing;

namespace Kirisame.Packaging.Tests;

/// `dotnet pack` of the server (the build these tests run against, not a new one) into a folder feed, then
/// `dotnet tool install` from that feed into a tool path: the same steps as `dotnet tool install --global`,
/// without touching the machine's global tools.
public sealed class ToolPackageFixture : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(10);
    private readonly TemporaryFolder _folder = new();

    public string Command => Path.Combine(_folder.Path, "tools", "kirisame");

    public string Folder => _folder.Path;

    public async Task InitializeAsync()
    {
        var feed = Path.Combine(_folder.Path, "feed");
        await Repository.DotnetAsync(["pack", Repository.ServerProject, "-c", Repository.Configuration, "--no-build", "-o", feed], s_timeout);
        // Only the folder feed, and a packages folder of its own: a kirisame package of the same version left in
        // the machine's NuGet cache by an earlier run must not be installed instead of this one.
        var config = Path.Combine(_folder.Path, "nuget.config");
        await File.WriteAllTextAsync(config, "<configuration><packageSources><clear /></packageSources></configuration>");
        await Repository.DotnetAsync(
            ["tool", "install", "--tool-path", Path.Combine(_folder.Path, "tools"), "--configfile", config, "--add-source", feed, "kirisame"],
            s_timeout, new Dictionary<string, string?> { ["NUGET_PACKAGES"] = Path.Combine(_folder.Path, "packages") });
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => _folder.Dispose();
}

public sealed class ToolPackageTests(ToolPackageFixture tool) : IClassFixture<ToolPackageFixture>
{
    [Fact]
    public async Task InstalledTool_PrintsItsVersion()
    {
        var result = await Tools.RunAsync(tool.Command, ["--version"], TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("kirisame 0.", result.Stdout, StringComparison.Ordinal);
    }

    /// With a data folder: the tool's layout must let RocksDB's native library be found.
    [Fact]
    public async Task InstalledTool_ServesAPublishSubscribeRoundTrip_WithRocksDb()
    {
        var data = Path.Combine(tool.Folder, "data-" + Guid.NewGuid().ToString("N")[..8]);
        await using var broker = await KirisameProcess.StartCommandAsync([tool.Command], 0, _ => ["--data-dir", data]);
        await RoundTrip.AssertAsync(broker);
        Assert.True(Directory.EnumerateFiles(data, "CURRENT").Any(), broker.Describe());
    }
}
