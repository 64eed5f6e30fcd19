namespace Kirisame.Packaging.Tests;

/// The server's sources (src/ and the build files at the root, without bin/ and obj/) copied to a folder of
/// its own. A `dotnet publish -r linux-x64` in the checkout would restore every project of the server for that
/// runtime, rewriting their obj/project.assets.json and so rebuilding the assemblies that other test projects
/// are running at the same time; in a copy it disturbs nothing.
internal static class SourceCopy
{
    private static readonly string[] s_rootFiles = ["Directory.Build.props", "Directory.Packages.props", "global.json", ".editorconfig"];

    /// Copies into <paramref name="destination"/>; returns the copied server project.
    public static string Make(string destination)
    {
        foreach (var file in s_rootFiles)
            File.Copy(Path.Combine(Repository.Root, file), Path.Combine(destination, file));
        CopyFolder(Path.Combine(Repository.Root, "src"), Path.Combine(destination, "src"));
        return Path.Combine(destination, "src", "Kirisame.Server", "Kirisame.Server.csproj");
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from))
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (var folder in Directory.EnumerateDirectories(from))
        {
            if (Path.GetFileName(folder) is not ("bin" or "obj"))
                CopyFolder(folder, Path.Combine(to, Path.GetFileName(folder)));
        }
    }
}
