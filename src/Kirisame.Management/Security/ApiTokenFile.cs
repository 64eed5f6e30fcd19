using System.Security.Cryptography;
using System.Text;
using Kirisame.Broker.Security;

namespace Kirisame.Management.Security;

/// API tokens for scripts, one "NAME:ROLE:SHA256" per line ('#' comments and blank lines ignored). Only the
/// SHA-256 of a token is kept: a token is 32 random bytes, so a single hash is as hard to reverse as the token
/// is to guess, and checking one costs a hash instead of a password's deliberately slow derivation.
public sealed class ApiTokenFile
{
    /// Every token starts with it, so a leaked one is easy to recognise (and to search for in a repository).
    public const string Prefix = "kirisame_";

    private readonly Dictionary<string, (string Name, ManagementRole Role)> _byHash;

    private ApiTokenFile(Dictionary<string, (string, ManagementRole)> byHash) => _byHash = byHash;

    public int Count => _byHash.Count;

    /// The token's name and role, when the file holds its hash.
    public bool TryFind(string token, out string name, out ManagementRole role)
    {
        if (_byHash.TryGetValue(Hash(token), out var entry))
        {
            (name, role) = entry;
            return true;
        }

        (name, role) = ("", 0);
        return false;
    }

    /// Throws FormatException naming the line for anything it cannot use.
    public static ApiTokenFile Parse(string text)
    {
        var byHash = new Dictionary<string, (string, ManagementRole)>(StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var lineNumber = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNumber++;
            var line = rawLine.TrimEnd('\r');
            if (line.Trim().Length == 0 || line.TrimStart().StartsWith('#'))
                continue;
            var parts = line.Split(':');
            if (parts.Length != 3 || parts[0].Length == 0)
                throw new FormatException($"line {lineNumber}: expected NAME:ROLE:SHA256");
            if (!ManagementRoles.TryParse(parts[1], out var role))
                throw new FormatException($"line {lineNumber} (token '{parts[0]}'): role must be administrator, monitoring or viewer (was '{parts[1]}')");
            var hash = parts[2].Trim().ToLowerInvariant();
            if (hash.Length != 64 || !hash.All(Uri.IsHexDigit))
                throw new FormatException($"line {lineNumber} (token '{parts[0]}'): expected the token's SHA-256 as 64 hexadecimal digits");
            if (!names.Add(parts[0]))
                throw new FormatException($"line {lineNumber}: token '{parts[0]}' appears twice");
            byHash[hash] = (parts[0], role);
        }

        return new ApiTokenFile(byHash);
    }

    /// Makes a new token for <paramref name="name"/> and writes its hash to the file (created if missing, readable
    /// by its owner only), replacing the name's previous token. Returns the token: it is not stored anywhere else.
    public static string Create(string path, string name, ManagementRole role)
    {
        if (name.Length == 0 || name.AsSpan().ContainsAny(":\r\n") || name.Trim() != name)
            throw new ArgumentException("A token name must not be empty, contain ':' or a line break, or start or end with a space.", nameof(name));
        var token = Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        var lines = LineFile.ReadLines(path);
        lines.RemoveAll(l => l.StartsWith(name + ":", StringComparison.Ordinal));
        lines.Add($"{name}:{ManagementRoles.Name(role)}:{Hash(token)}");
        LineFile.Replace(path, lines, LineFile.OwnerOnly);
        return token;
    }

    /// Removes the named token; false when there was none.
    public static bool Remove(string path, string name)
    {
        var lines = LineFile.ReadLines(path);
        if (lines.RemoveAll(l => l.StartsWith(name + ":", StringComparison.Ordinal)) == 0)
            return false;
        LineFile.Replace(path, lines, LineFile.OwnerOnly);
        return true;
    }

    internal static string Hash(string token) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
