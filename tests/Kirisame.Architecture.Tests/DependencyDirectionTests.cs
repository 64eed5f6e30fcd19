namespace Kirisame.Architecture.Tests;

/// The dependency direction of docs/ARCHITECTURE.md ("the folders are the architecture"):
/// Protocol ← Broker ← {Transport, Storage.*, Management, Cluster} ← Server, and tests/bench/fuzz on the side.
public sealed class DependencyDirectionTests
{
    /// Which src projects each src project may reference. A new src project must be added here on purpose.
    private static readonly Dictionary<string, string[]> s_allowed = new(StringComparer.Ordinal)
    {
        ["Kirisame.Protocol"] = [],
        // The libc calls of the own TCP transport, shared by the transport and the load generator's connector.
        ["Kirisame.Native"] = [],
        ["Kirisame.Broker"] = ["Kirisame.Protocol"],
        ["Kirisame.Transport"] = ["Kirisame.Broker", "Kirisame.Protocol", "Kirisame.Native"],
        ["Kirisame.Management"] = ["Kirisame.Broker", "Kirisame.Protocol"],
        ["Kirisame.Cluster"] = ["Kirisame.Broker", "Kirisame.Protocol"],
        // The MQTT-SN gateway: its own codec and UDP socket; its clients are broker sessions (in-process clients).
        ["Kirisame.MqttSn"] = ["Kirisame.Broker", "Kirisame.Protocol"],
        // The load generator is a client: it speaks the codec and knows nothing of the broker.
        ["Kirisame.Bench"] = ["Kirisame.Protocol", "Kirisame.Native"],
        // The MQTT client library speaks the codec and knows nothing of the broker.
        ["Kirisame.Client"] = ["Kirisame.Protocol"],
        // Bridges: the broker's in-process client on one side, the MQTT client on the other.
        ["Kirisame.Bridges"] = ["Kirisame.Broker", "Kirisame.Protocol", "Kirisame.Client"],
        ["Kirisame.Server"] = ["*"],
        // A fuzz target (fuzz/) references the layer it fuzzes and nothing above it.
        ["Kirisame.Protocol.Fuzz"] = ["Kirisame.Protocol"],
    };

    private static readonly string[] s_mayUseAspNetCore = ["Kirisame.Transport", "Kirisame.Management", "Kirisame.Server"];

    /// src/ and fuzz/: the projects with dependency rules.
    public static TheoryData<string> SourceProjects() =>
        [.. Repository.Projects.Where(p => p.RelativePath.StartsWith("src/", StringComparison.Ordinal) || p.RelativePath.StartsWith("fuzz/", StringComparison.Ordinal))
            .Select(p => p.RelativePath)];

    public static TheoryData<string> SourceAndBenchProjects() =>
        [.. Repository.Projects.Where(p => !p.RelativePath.StartsWith("tests/", StringComparison.Ordinal)).Select(p => p.RelativePath)];

    [Fact]
    public void TheLayeredProjectsAreFound()
    {
        var names = Repository.Projects.Select(p => p.Name).ToList();
        Assert.Contains("Kirisame.Protocol", names);
        Assert.Contains("Kirisame.Broker", names);
        Assert.Contains("Kirisame.Server", names);
        Assert.Contains("Kirisame.Protocol.Fuzz", names);
    }

    /// A project compiles only its own files: a file shared by linking it into another project is a dependency
    /// the rules above cannot see.
    [Theory]
    [MemberData(nameof(SourceAndBenchProjects))]
    public void Project_CompilesNoFileFromOutsideItsFolder(string path)
    {
        var document = System.Xml.Linq.XDocument.Load(Path.Combine(Repository.Root, path));
        var outside = document.Descendants("Compile")
            .Select(e => (string?)e.Attribute("Include"))
            .OfType<string>()
            .Where(include => include.Replace('\\', '/').StartsWith("../", StringComparison.Ordinal))
            .ToList();
        Assert.True(outside.Count == 0, $"{path} compiles {string.Join(", ", outside)}: move shared code into a project both reference.");
    }

    [Fact]
    public void Protocol_ReferencesNothing()
    {
        var protocol = Repository.Project("src/Kirisame.Protocol/Kirisame.Protocol.csproj");

        Assert.Empty(protocol.ProjectReferences);
        Assert.Empty(protocol.PackageReferences);
        Assert.Empty(protocol.FrameworkReferences);
        Assert.Equal("Microsoft.NET.Sdk", protocol.Sdk);
    }

    [Theory]
    [MemberData(nameof(SourceProjects))]
    public void SourceProject_ReferencesOnlyTheLayersBelowIt(string path)
    {
        var project = Repository.Project(path);
        var allowed = AllowedFor(project.Name);
        Assert.True(allowed is not null,
            $"{path} is not in the dependency rules of {nameof(DependencyDirectionTests)}; add it with the layers it may use.");

        if (allowed!.Contains("*"))
            return;
        var forbidden = project.ProjectReferences
            .Select(r => Path.GetFileNameWithoutExtension(r))
            .Where(name => !allowed.Contains(name))
            .ToList();
        Assert.True(forbidden.Count == 0, $"{project.Name} may reference only [{string.Join(", ", allowed)}] but references [{string.Join(", ", forbidden)}].");
    }

    [Theory]
    [MemberData(nameof(SourceAndBenchProjects))]
    public void OnlyTransportManagementAndServer_ReferenceAspNetCore(string path)
    {
        var project = Repository.Project(path);

        if (!s_mayUseAspNetCore.Contains(project.Name))
            Assert.False(project.ReferencesAspNetCore, $"{project.Name} references ASP.NET Core; only {string.Join(", ", s_mayUseAspNetCore)} may.");
    }

    [Theory]
    [MemberData(nameof(SourceAndBenchProjects))]
    public void NothingInSrcOrBench_ReferencesTheServerOrTestProjects(string path)
    {
        var project = Repository.Project(path);

        var forbidden = project.ProjectReferences
            .Where(r => r.StartsWith("tests/", StringComparison.Ordinal) || Path.GetFileNameWithoutExtension(r) == "Kirisame.Server")
            .ToList();
        Assert.True(forbidden.Count == 0, $"{project.Name} references [{string.Join(", ", forbidden)}].");
    }

    /// Storage back ends are one layer each (Kirisame.Storage.RocksDb, ...), like Transport.
    private static string[]? AllowedFor(string name) =>
        s_allowed.TryGetValue(name, out var allowed) ? allowed
        : name.StartsWith("Kirisame.Storage.", StringComparison.Ordinal) || name.StartsWith("Kirisame.Cluster.", StringComparison.Ordinal)
            ? ["Kirisame.Broker", "Kirisame.Protocol"]
            : null;
}
