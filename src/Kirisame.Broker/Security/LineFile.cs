using System.Text;

namespace Kirisame.Broker.Security;

/// A small text file of one entry per line that tools edit while a broker may be reading it (a password file, the
/// management API's token file): read as lines, written whole and atomically.
public static class LineFile
{
    /// The file's lines (none when it does not exist), without line ends or a trailing empty line.
    public static List<string> ReadLines(string path)
    {
        var lines = File.Exists(path) ? File.ReadAllText(path).Split('\n').Select(l => l.TrimEnd('\r')).ToList() : [];
        if (lines.Count > 0 && lines[^1].Length == 0)
            lines.RemoveAt(lines.Count - 1);
        return lines;
    }

    /// Writes a temporary file beside it and renames it over the file: a broker re-reading it sees the old or the new
    /// contents, never half of them. The file keeps its mode, owner and group; a new one is readable by its owner
    /// and group (0640), never by others: `chgrp mosquitto FILE` is then all Mosquitto needs to read it too.
    public static void Replace(string path, IEnumerable<string> lines)
    {
        var full = Path.GetFullPath(path);
        var temporary = Path.Combine(Path.GetDirectoryName(full)!, "." + Path.GetFileName(full) + ".tmp");
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        var exists = File.Exists(full);
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = exists ? File.GetUnixFileMode(full) : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;
        using (var stream = new FileStream(temporary, options))
        using (var writer = new StreamWriter(stream, new UTF8Encoding(false)))
        {
            foreach (var line in lines)
                writer.Write(line + "\n");
        }

        if (exists && !OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temporary, File.GetUnixFileMode(full)); // as it was: the umask applied to the create
            FileOwnership.CopyTo(full, temporary);
        }
        File.Move(temporary, full, overwrite: true);
    }
}
