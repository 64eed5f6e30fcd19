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

    /// Owner read and write, group read (0640): what a new password file gets, so that `chgrp mosquitto FILE` is
    /// all Debian's Mosquitto (which drops privileges to its own user) needs to read it too.
    public const UnixFileMode OwnerAndGroup = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;

    /// Owner read and write only (0600): for files no other program reads (the management API's tokens).
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// Writes a temporary file beside it and renames it over the file: a broker re-reading it sees the old or the new
    /// contents, never half of them. The file keeps its mode, owner and group; a new one gets
    /// <paramref name="newFileMode"/>, never anything for others.
    public static void Replace(string path, IEnumerable<string> lines, UnixFileMode newFileMode = OwnerAndGroup)
    {
        var full = Path.GetFullPath(path);
        var temporary = Path.Combine(Path.GetDirectoryName(full)!, "." + Path.GetFileName(full) + ".tmp");
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        var exists = File.Exists(full);
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = exists ? File.GetUnixFileMode(full) : newFileMode & (OwnerAndGroup | OwnerOnly);
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
