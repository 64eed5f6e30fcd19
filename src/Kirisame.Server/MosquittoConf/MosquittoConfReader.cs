namespace Kirisame.Server.MosquittoConf;

/// One directive of a mosquitto.conf: its name, its words, and where it was written (for messages).
internal sealed record ConfDirective(string File, int Line, string Name, IReadOnlyList<string> Words, string Value)
{
    public string Where => $"{Path.GetFileName(File)}:{Line}";
}

/// Reads a mosquitto.conf into directives, in the order Mosquitto applies them. The format (mosquitto.conf(5)):
/// one directive per line, its name then its value after a space; lines starting with '#' are comments;
/// `include_dir DIR` (main file only) reads DIR's *.conf files in ordinal order, upper case before lower case of
/// the same letter, as Mosquitto sorts them.
internal static class MosquittoConfReader
{
    public static List<ConfDirective> Read(string path, List<ConfDiagnostic> diagnostics)
    {
        var directives = new List<ConfDirective>();
        ReadFile(path, isMain: true, directives, diagnostics);
        return directives;
    }

    /// For the hint when a mosquitto.conf is given to --config: its first line that is not blank or a comment
    /// is a lower-case directive name (JSON starts with '{').
    public static bool LooksLikeMosquittoConf(string path)
    {
        try
        {
            var first = File.ReadLines(path).Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0 && !l.StartsWith('#'));
            var name = first?.Split([' ', '\t'], 2)[0];
            return name is { Length: > 0 } && name.All(c => c is (>= 'a' and <= 'z') or '_' or (>= '0' and <= '9'));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void ReadFile(string path, bool isMain, List<ConfDirective> directives, List<ConfDiagnostic> diagnostics)
    {
        var lineNumber = 0;
        foreach (var raw in File.ReadAllLines(path))
        {
            lineNumber++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            var words = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            var value = words.Length > 1 ? line[words[0].Length..].Trim() : "";
            var directive = new ConfDirective(path, lineNumber, words[0], words[1..], value);
            if (directive.Name != "include_dir")
            {
                directives.Add(directive);
                continue;
            }

            if (!isMain)
            {
                diagnostics.Add(ConfDiagnostic.Error(directive, "include_dir is only read from the main file (as Mosquitto does)"));
                continue;
            }

            var folder = Path.IsPathRooted(value) ? value : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, value);
            if (value.Length == 0 || !Directory.Exists(folder))
            {
                diagnostics.Add(ConfDiagnostic.Error(directive, $"include_dir: folder '{value}' does not exist"));
                continue;
            }

            var files = Directory.GetFiles(folder, "*.conf").Order(IncludeOrder.Instance).ToList();
            foreach (var file in files)
                ReadFile(file, isMain: false, directives, diagnostics);
        }
    }

    /// Mosquitto's order: letters compared case-insensitively first, then upper case before lower case.
    private sealed class IncludeOrder : IComparer<string>
    {
        public static readonly IncludeOrder Instance = new();

        public int Compare(string? x, string? y)
        {
            var ignoringCase = string.Compare(x, y, StringComparison.OrdinalIgnoreCase);
            return ignoringCase != 0 ? ignoringCase : string.CompareOrdinal(x, y);
        }
    }
}

/// A directive Kirisame cannot honour. An error stops the server (exit 2): ignoring it would leave the broker
/// less secure or keeping less than the file asks. A warning does not: the directive is cosmetic or tuning.
internal sealed record ConfDiagnostic(bool IsError, string Where, string Message)
{
    public static ConfDiagnostic Error(ConfDirective directive, string message) => new(true, directive.Where, message);

    public static ConfDiagnostic Warning(ConfDirective directive, string message) => new(false, directive.Where, message);

    public override string ToString() => $"{Where}: {(IsError ? "error" : "warning")}: {Message}";
}
