using System.Text.Json;

namespace Kirisame.Packaging.Tests;

/// The container image's configuration as the .NET SDK computes it (its ComputeContainerConfig target, which
/// PublishContainer runs before building the image). Building the image itself needs the base image from
/// mcr.microsoft.com, which this workplace cannot reach, and there is no container runtime here: the image's
/// settings are what can be checked.
public sealed class ContainerImageTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    [Fact]
    public async Task Image_RunsAsANonRootUser_DeclaresMqttPorts_AndKeepsDataInTheUsersHome()
    {
        var project = SourceCopy.Make(_folder.Path);
        var result = await Repository.DotnetAsync(
            ["msbuild", project, "-restore", "-t:ComputeContainerConfig", "-p:Configuration=Release",
             "-getProperty:ContainerBaseImage", "-getProperty:ContainerUser", "-getProperty:ContainerWorkingDirectory",
             "-getProperty:ContainerRepository", "-getItem:ContainerPort", "-getItem:ContainerEnvironmentVariables", "-getItem:ContainerLabel"],
            TimeSpan.FromMinutes(5));
        using var json = JsonDocument.Parse(result.Stdout);
        var properties = json.RootElement.GetProperty("Properties");
        var items = json.RootElement.GetProperty("Items");

        Assert.Equal("kirisame", properties.GetProperty("ContainerRepository").GetString());
        Assert.StartsWith("mcr.microsoft.com/dotnet/aspnet:10.", properties.GetProperty("ContainerBaseImage").GetString(), StringComparison.Ordinal);
        Assert.Equal("app", properties.GetProperty("ContainerUser").GetString()); // the base image's uid 1654, not root
        Assert.Equal("/home/app", properties.GetProperty("ContainerWorkingDirectory").GetString());
        Assert.Equal(["1883", "8883"], Identities(items, "ContainerPort").Order());
        var environment = items.GetProperty("ContainerEnvironmentVariables").EnumerateArray()
            .ToDictionary(e => e.GetProperty("Identity").GetString()!, e => e.GetProperty("Value").GetString());
        Assert.Equal("0.0.0.0", environment["KIRISAME__Transport__BindAddress"]);
        Assert.Equal("/home/app/data", environment["KIRISAME__Storage__DataDirectory"]);
        Assert.Contains("io.kirisame.volume", Identities(items, "ContainerLabel"));
    }

    private static IEnumerable<string> Identities(JsonElement items, string name) =>
        items.GetProperty(name).EnumerateArray().Select(e => e.GetProperty("Identity").GetString()!);

    public void Dispose() => _folder.Dispose();
}
