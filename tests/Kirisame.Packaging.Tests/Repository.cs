using System.Reflection;
using Kirisame.Testing;

namespace Kirisame.Packaging.Tests;

/// The checkout these tests were built from, and `dotnet` commands run in it.
internal static class Repository
{
    public static string Root { get; } = Metadata("RepositoryRoot");

    /// The configuration the tests (and so the server they reuse) were built in.
    public static string Configuration { get; } = Metadata("Configuration");

    public static string ServerProject => Path.Combine(Root, "src", "Kirisame.Server", "Kirisame.Server.csproj");

    /// Runs the dotnet that runs these tests. MSBuild's variables, which `dotnet test` sets for its own build,
    /// are removed: an inner build must find its SDK by itself. Throws with the output when it fails.
    public static async Task<ToolResult> DotnetAsync(IEnumerable<string> arguments, TimeSpan timeout,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        var variables = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["MSBuildSDKsPath"] = null,
            ["MSBuildExtensionsPath"] = null,
            ["MSBUILD_EXE_PATH"] = null,
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
            variables[key] = value;
        var result = await Tools.RunAsync(KirisameProcess.DotnetHost, arguments, timeout, variables);
        if (result.ExitCode != 0 || result.TimedOut)
            throw new InvalidOperationException($"dotnet failed:\n{result}");
        return result;
    }

    private static string Metadata(string key) =>
        typeof(Repository).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
}
