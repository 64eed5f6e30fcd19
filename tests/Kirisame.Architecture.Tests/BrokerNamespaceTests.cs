using System.Text.RegularExpressions;

namespace Kirisame.Architecture.Tests;

/// The broker core's namespaces (its folders) depend on each other in one direction only (issue 12: "Sessions ↔
/// Routing form a cycle"). Checked on the source: a file in src/Kirisame.Broker/X depends on Y when it says
/// `using Kirisame.Broker.Y;` or names `Y.Something` (code in Kirisame.Broker.X sees its parent's namespaces).
/// The root namespace — MqttBroker, the facade that wires the parts together — is left out: it may use every
/// part, and a part that needs the broker is handed what it needs through it.
public sealed partial class BrokerNamespaceTests
{
    private const string Core = "src/Kirisame.Broker";

    [GeneratedRegex(@"^\s*using\s+Kirisame\.Broker\.(\w+)\s*;")]
    private static partial Regex UsingPart();

    [GeneratedRegex(@"(?<![\w.])(\w+)\.[A-Z]\w*")]
    private static partial Regex QualifiedName();

    /// Folder → the other folders its files depend on.
    private static Dictionary<string, SortedSet<string>> Dependencies()
    {
        var root = Path.Combine(Repository.Root, Core);
        var parts = Directory.GetDirectories(root).Select(Path.GetFileName).Where(n => n is not ("bin" or "obj")).Cast<string>().ToHashSet(StringComparer.Ordinal);
        var graph = parts.ToDictionary(p => p, _ => new SortedSet<string>(StringComparer.Ordinal), StringComparer.Ordinal);
        foreach (var part in parts)
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(root, part), "*.cs", SearchOption.AllDirectories))
            {
                foreach (var line in File.ReadLines(file))
                {
                    var code = line.Split("//", 2)[0];
                    if (UsingPart().Match(code) is { Success: true } used && parts.Contains(used.Groups[1].Value))
                        graph[part].Add(used.Groups[1].Value);
                    foreach (Match name in QualifiedName().Matches(code))
                    {
                        if (parts.Contains(name.Groups[1].Value))
                            graph[part].Add(name.Groups[1].Value);
                    }
                }
            }

            graph[part].Remove(part);
        }

        return graph;
    }

    [Fact]
    public void BrokerNamespaces_FormNoCycle()
    {
        var graph = Dependencies();
        var cycles = new List<string>();
        foreach (var start in graph.Keys.Order(StringComparer.Ordinal))
        {
            // A path back to the start through the dependency graph is a cycle.
            var path = FindPath(graph, start, start, []);
            if (path is not null)
                cycles.Add(string.Join(" → ", path));
        }

        Assert.True(cycles.Count == 0, "Namespaces inside Kirisame.Broker depend on each other in a cycle:\n" + string.Join('\n', cycles)
            + "\n\nAll dependencies:\n" + string.Join('\n', graph.Select(p => $"{p.Key} → {string.Join(", ", p.Value)}")));
    }

    [Fact]
    public void TheCycleRule_FindsACycle()
    {
        var graph = new Dictionary<string, SortedSet<string>>
        {
            ["A"] = ["B"],
            ["B"] = ["C"],
            ["C"] = ["A"],
            ["D"] = ["A"],
        };
        Assert.Equal(["A", "B", "C", "A"], FindPath(graph, "A", "A", []));
        Assert.Null(FindPath(graph, "D", "D", []));
    }

    private static List<string>? FindPath(Dictionary<string, SortedSet<string>> graph, string from, string to, HashSet<string> seen)
    {
        foreach (var next in graph.GetValueOrDefault(from) ?? [])
        {
            if (next == to)
                return [from, to];
            if (!seen.Add(next))
                continue;
            if (FindPath(graph, next, to, seen) is { } rest)
                return [from, .. rest];
        }

        return null;
    }
}
