using System.Xml.Linq;

namespace Kirisame.Architecture.Tests;

/// What a .csproj says about its dependencies, read from the XML (no MSBuild evaluation: the rules only
/// concern what is written in the project files).
internal sealed record ProjectFile(string Name, string RelativePath, string Sdk, IReadOnlyList<string> ProjectReferences,
    IReadOnlyList<string> PackageReferences, IReadOnlyList<string> FrameworkReferences)
{
    public bool ReferencesAspNetCore =>
        Sdk.StartsWith("Microsoft.NET.Sdk.Web", StringComparison.OrdinalIgnoreCase)
        || FrameworkReferences.Contains("Microsoft.AspNetCore.App", StringComparer.OrdinalIgnoreCase)
        || PackageReferences.Any(p => p.StartsWith("Microsoft.AspNetCore.", StringComparison.OrdinalIgnoreCase));

    public static ProjectFile Load(string root, string path)
    {
        var document = XDocument.Load(path);
        var directory = Path.GetDirectoryName(path)!;
        IEnumerable<string> Includes(string item) =>
            document.Descendants(item).Select(e => (string?)e.Attribute("Include")).OfType<string>();

        return new ProjectFile(
            Path.GetFileNameWithoutExtension(path),
            Path.GetRelativePath(root, path).Replace('\\', '/'),
            (string?)document.Root?.Attribute("Sdk") ?? "",
            [.. Includes("ProjectReference").Select(p => Path.GetFullPath(Path.Combine(directory, p.Replace('\\', '/'))))
                .Select(p => Path.GetRelativePath(root, p).Replace('\\', '/'))],
            [.. Includes("PackageReference")],
            [.. Includes("FrameworkReference")]);
    }
}

internal static class Repository
{
    public static string Root { get; } = FindRoot();

    /// Every project under src/, tests/, bench/ and fuzz/.
    public static IReadOnlyList<ProjectFile> Projects { get; } =
    [
        .. new[] { "src", "tests", "bench", "fuzz" }
            .Select(folder => Path.Combine(Root, folder))
            .Where(Directory.Exists)
            .SelectMany(folder => Directory.EnumerateFiles(folder, "*.csproj", SearchOption.AllDirectories))
            .Where(path => !path.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
            .Order(StringComparer.Ordinal)
            .Select(path => ProjectFile.Load(Root, path)),
    ];

    public static ProjectFile Project(string relativePath) =>
        Projects.Single(p => p.RelativePath == relativePath);

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Kirisame.slnx")))
                return directory.FullName;
        }
        throw new InvalidOperationException($"Kirisame.slnx not found above {AppContext.BaseDirectory}.");
    }
}
