using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Kirisame.Protocol.Framing;
using Kirisame.Protocol.Fuzz;
using Kirisame.Protocol.Tests.Vectors;

namespace Kirisame.Protocol.Tests;

/// fuzz/corpus (the fuzzer's seeds) and fuzz/crashes (inputs it found that broke the codec) replayed through the
/// fuzz target in-process, so a crash once found stays a failing test until it is fixed. fuzz/run.sh runs the
/// same target under afl-fuzz.
public class FuzzCorpusTests
{
    private const string RegenerateVariable = "KIRISAME_WRITE_FUZZ_CORPUS";

    [Fact]
    public void CorpusInputs_RunThroughTheFuzzTargetWithoutThrowing()
    {
        var files = Files("fuzz/corpus");
        Assert.NotEmpty(files);
        AssertNoneThrows(files);
    }

    /// Empty while no crash is known; a crash found by fuzz/run.sh is kept here until the codec is fixed.
    [Fact]
    public void CrashInputs_RunThroughTheFuzzTargetWithoutThrowing() => AssertNoneThrows(Files("fuzz/crashes"));

    /// The seeds come from the vector tables: each valid vector alone, the invalid ones back to back by packet type
    /// (a decoding error does not stop framing, so every packet of the stream is decoded; an invalid vector that
    /// framing refuses stays alone), and each version's valid vectors as one stream. Every vector's bytes must
    /// be somewhere in the corpus; a new vector makes this fail until the corpus is regenerated:
    /// KIRISAME_WRITE_FUZZ_CORPUS=1 dotnet test tests/Kirisame.Protocol.Tests --filter FuzzCorpusTests
    [Fact]
    public void Corpus_HoldsEveryVector()
    {
        var directory = Path.Combine(RepositoryRoot, "fuzz", "corpus");
        if (Environment.GetEnvironmentVariable(RegenerateVariable) == "1")
            WriteSeeds(directory);

        var corpus = Files("fuzz/corpus").Select(File.ReadAllBytes).ToList();
        var missing = MqttVectors.Valid.Select(v => (v.Name, v.Bytes)).Concat(MqttVectors.Invalid.Select(v => (v.Name, v.Bytes)))
            .Where(v => !corpus.Any(input => input.AsSpan().IndexOf(v.Bytes) >= 0))
            .Select(v => v.Name)
            .ToList();
        Assert.True(missing.Count == 0,
            $"fuzz/corpus lacks the bytes of {missing.Count} vectors ({string.Join(", ", missing.Take(5))}); run with {RegenerateVariable}=1 to add them.");
    }

    /// Replaces the generated seeds (valid-*, invalid-*, stream-*); other files in the corpus are kept.
    private static void WriteSeeds(string directory)
    {
        Directory.CreateDirectory(directory);
        foreach (var file in Directory.EnumerateFiles(directory))
        {
            if (Path.GetFileName(file).Split('-')[0] is "valid" or "invalid" or "stream")
                File.Delete(file);
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, bytes) in Seeds())
        {
            // Named after the first vector with these bytes, and the start of their SHA-256 (names can collide).
            if (seen.Add(Convert.ToHexString(bytes)))
                File.WriteAllBytes(Path.Combine(directory, $"{FileName(name)}-{Convert.ToHexStringLower(SHA256.HashData(bytes), 0, 4)}"), bytes);
        }
    }

    private static IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        foreach (var v in MqttVectors.Valid)
            yield return ("valid " + v.Name, v.Bytes);
        var invalid = MqttVectors.Invalid.Select(v => v.Bytes).DistinctBy(Convert.ToHexString).ToList();
        foreach (var bytes in invalid.Where(b => !FramesWhole(b)))
            yield return ("invalid framing", bytes);
        foreach (var group in invalid.Where(FramesWhole).GroupBy(b => (PacketType)(b[0] >> 4)))
            yield return ($"invalid {group.Key}", [.. group.SelectMany(b => b)]);
        foreach (var group in MqttVectors.Valid.GroupBy(v => v.Version))
            yield return ($"stream {group.Key}", [.. group.SelectMany(v => v.Bytes)]);
    }

    private static bool FramesWhole(byte[] bytes)
        => MqttFraming.TryReadHeader(new ReadOnlySequence<byte>(bytes), int.MaxValue, out var header, out _) == FrameStatus.Complete
            && header.TotalLength == bytes.Length;

    private static string FileName(string name)
    {
        var builder = new StringBuilder();
        foreach (var c in name.ToLowerInvariant())
            builder.Append(char.IsAsciiLetterOrDigit(c) || c == '.' ? c : '-');
        var slug = builder.ToString();
        while (slug.Contains("--", StringComparison.Ordinal))
            slug = slug.Replace("--", "-", StringComparison.Ordinal);
        return slug.Trim('-');
    }

    private static List<string> Files(string folder)
    {
        var directory = Path.Combine(RepositoryRoot, folder);
        return Directory.Exists(directory)
            ? [.. Directory.EnumerateFiles(directory).Where(f => Path.GetFileName(f) != "README.md").Order(StringComparer.Ordinal)]
            : [];
    }

    private static void AssertNoneThrows(List<string> files)
    {
        var failures = new List<string>();
        foreach (var file in files)
        {
            var bytes = File.ReadAllBytes(file);
            try
            {
                CodecFuzzTarget.Run(bytes);
            }
            catch (Exception e)
            {
                failures.Add($"{Path.GetRelativePath(RepositoryRoot, file)} ({Convert.ToHexString(bytes)}): {e}");
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {files.Count} inputs threw:\n{string.Join("\n\n", failures)}");
    }

    private static string RepositoryRoot { get; } = FindRoot();

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
