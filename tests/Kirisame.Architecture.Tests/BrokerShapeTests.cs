using System.Text.RegularExpressions;

namespace Kirisame.Architecture.Tests;

/// Rules for the inside of the broker core (docs/ARCHITECTURE.md, "The core's shape"), checked on the source.
public sealed partial class BrokerShapeTests
{
    private const string Journal = "src/Kirisame.Broker/Sessions/SessionJournal.cs";

    /// The marker that lets a source file be longer than <see cref="MaxLines"/>: the reason must follow it.
    private const string LongFileMarker = "// Longer than 500 lines because:";

    private const int MaxLines = 500;

    private static IEnumerable<string> SourceFiles(string folder) =>
        Directory.EnumerateFiles(Path.Combine(Repository.Root, folder), "*.cs", SearchOption.AllDirectories)
            .Where(path => !path.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
            .Order(StringComparer.Ordinal);

    private static string Relative(string path) => Path.GetRelativePath(Repository.Root, path).Replace('\\', '/');

    [GeneratedRegex(@"\.\s*(PutSession|DeleteSession|PutSubscription|DeleteSubscription|PutQueued|DeleteQueued|PutInboundQoS2|DeleteInboundQoS2)\s*\(")]
    private static partial Regex SessionStoreWrite();

    /// Durability has one owner: a session's changes reach the store only through its journal.
    [Fact]
    public void SessionStoreWrites_AreMadeOnlyByTheSessionJournal()
    {
        var files = SourceFiles("src/Kirisame.Broker").ToList();
        Assert.Contains(files, f => Relative(f) == Journal);
        var offenders = files
            .Where(f => Relative(f) != Journal)
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (File: Relative(f), Line: i + 1, Text: line)))
            .Where(l => SessionStoreWrite().IsMatch(l.Text))
            .Select(l => $"{l.File}:{l.Line}: {l.Text.Trim()}")
            .ToList();
        Assert.True(offenders.Count == 0,
            "A session's store writes go through session.Journal (" + Journal + "):\n" + string.Join('\n', offenders));
    }

    [Fact]
    public void TheJournalRule_FindsAWriteWhereverItIs()
    {
        Assert.Matches(SessionStoreWrite(), "                Store.PutQueued(session.ClientId, queued, 0, state);");
        Assert.Matches(SessionStoreWrite(), "_broker.Store . DeleteSession (id)");
        Assert.DoesNotMatch(SessionStoreWrite(), "    public void PutSession(in SessionRecord session);");
    }

    /// Small types, one concern each: a source file over 500 lines says why, or is split.
    [Fact]
    public void SourceFiles_Over500Lines_StateWhy()
    {
        var offenders = SourceFiles("src")
            .Select(f => (File: f, Lines: File.ReadAllLines(f)))
            .Where(f => f.Lines.Length > MaxLines && !f.Lines.Any(l => l.TrimStart().StartsWith(LongFileMarker, StringComparison.Ordinal)
                && l.Trim().Length > LongFileMarker.Length + 10))
            .Select(f => $"{Relative(f.File)}: {f.Lines.Length} lines")
            .ToList();
        Assert.True(offenders.Count == 0,
            $"Split these files, or state the reason in a comment starting \"{LongFileMarker}\":\n" + string.Join('\n', offenders));
    }
}
