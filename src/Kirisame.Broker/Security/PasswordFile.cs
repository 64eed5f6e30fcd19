using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Kirisame.Broker.Security;

/// A Mosquitto-style password file: one "user:hash" per line, '#' comments and blank lines ignored. See
/// <see cref="PasswordHash"/> for the hash formats; $scram-sha256$ entries also serve SCRAM-SHA-256.
public sealed class PasswordFile
{
    private readonly Dictionary<string, string> _entries;
    private readonly Dictionary<string, ScramCredential> _scram;

    private PasswordFile(Dictionary<string, string> entries, Dictionary<string, ScramCredential> scram)
    {
        _entries = entries;
        _scram = scram;
    }

    public int Count => _entries.Count;

    /// The users it holds, in no particular order.
    public IEnumerable<string> UserNames => _entries.Keys;

    public bool TryGetHash(string userName, out string hash) => _entries.TryGetValue(userName, out hash!);

    /// The user's SCRAM-SHA-256 credential, when the entry is a $scram-sha256$ one (decoded once, at load).
    public bool TryGetScramCredential(string userName, [NotNullWhen(true)] out ScramCredential? credential) =>
        _scram.TryGetValue(userName, out credential);

    /// Throws FormatException naming the line for anything it cannot use.
    public static PasswordFile Parse(string text)
    {
        var entries = new Dictionary<string, string>(StringComparer.Ordinal);
        var scram = new Dictionary<string, ScramCredential>(StringComparer.Ordinal);
        var lineNumber = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNumber++;
            var line = rawLine.TrimEnd('\r');
            if (line.Length == 0 || line.TrimStart().StartsWith('#'))
                continue;
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
                throw new FormatException($"line {lineNumber}: expected user:hash");
            var user = line[..colon];
            var hash = line[(colon + 1)..].Trim();
            if (!PasswordHash.IsValid(hash, out var problem))
                throw new FormatException($"line {lineNumber} (user '{user}'): {problem}");
            if (!entries.TryAdd(user, hash))
                throw new FormatException($"line {lineNumber}: user '{user}' appears twice");
            if (PasswordHash.TryGetScramCredential(hash, out var credential))
                scram.Add(user, credential);
        }

        return new PasswordFile(entries, scram);
    }

    /// Adds or replaces the user's entry, keeping every other line (comments included) as it was. The file
    /// is replaced atomically (write a temporary file, then rename), so a broker reading it sees the old or
    /// the new contents, never half of one; a new file is readable by its owner only.
    public static void SetPassword(string path, string userName, ReadOnlySpan<byte> password, int iterations = PasswordHash.DefaultIterations) =>
        SetEntry(path, userName, PasswordHash.Create(password, iterations));

    /// As <see cref="SetPassword"/>, with an entry already hashed (e.g. <see cref="PasswordHash.CreateScramSha256"/>).
    /// <paramref name="replaceFile"/> starts a new file with only this entry (mosquitto_passwd -c).
    public static void SetEntry(string path, string userName, string hash, bool replaceFile = false)
    {
        if (userName.Length == 0 || userName.Contains(':', StringComparison.Ordinal) || userName.AsSpan().ContainsAny('\r', '\n'))
            throw new ArgumentException("A user name must not be empty or contain ':' or a line break.", nameof(userName));
        if (!PasswordHash.IsValid(hash, out var problem))
            throw new ArgumentException(problem, nameof(hash));
        var entry = userName + ":" + hash;
        var lines = replaceFile ? [] : LineFile.ReadLines(path);
        var index = lines.FindIndex(l => l.StartsWith(userName + ":", StringComparison.Ordinal));
        if (index >= 0)
            lines[index] = entry;
        else
            lines.Add(entry);
        LineFile.Replace(path, lines);
    }

    /// Removes the user's entry, keeping every other line; false when there was none. Replaced atomically.
    public static bool RemoveEntry(string path, string userName)
    {
        var lines = LineFile.ReadLines(path);
        if (lines.RemoveAll(l => l.StartsWith(userName + ":", StringComparison.Ordinal)) == 0)
            return false;
        LineFile.Replace(path, lines);
        return true;
    }
}
