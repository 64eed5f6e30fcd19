using System.Globalization;

namespace Kirisame.Interop.Tests.Transport;

/// What Linux's /proc says about the server process from outside: its open TCP connections on a port (the
/// accepted sockets the transport still holds, whatever the broker thinks of them) and its threads' names.
internal static class ProcessProbe
{
    private const string Listen = "0A"; // TCP_LISTEN in /proc/net/tcp

    /// Sockets of process <paramref name="pid"/> that were accepted on <paramref name="port"/> and are not yet
    /// closed (any TCP state but LISTEN: ESTABLISHED, CLOSE_WAIT, FIN_WAIT...). A socket the server has closed
    /// no longer has a descriptor in the process, even if the kernel still finishes it (TIME_WAIT).
    public static int AcceptedSockets(int pid, int port) => Accepted(pid, port).Count;

    /// Bytes the server has written to its accepted sockets on <paramref name="port"/> that the peers have not
    /// acknowledged yet (tx_queue): more than a window's worth means the server's send buffers are backed up.
    public static long UnsentBytes(int pid, int port) => Accepted(pid, port).Sum(s => s.TxQueue);

    private static List<(string Inode, long TxQueue)> Accepted(int pid, int port)
    {
        var inodes = SocketInodes(pid);
        var sockets = new List<(string, long)>();
        foreach (var line in File.ReadLines($"/proc/{pid}/net/tcp").Skip(1))
        {
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 10)
                continue;
            var localPort = int.Parse(fields[1].AsSpan(fields[1].IndexOf(':') + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (localPort != port || fields[3] == Listen || !inodes.Contains(fields[9]))
                continue;
            var txQueue = long.Parse(fields[4].AsSpan(0, fields[4].IndexOf(':')), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            sockets.Add((fields[9], txQueue));
        }

        return sockets;
    }

    /// The names of the process's threads (the kernel keeps the first 15 characters).
    public static IReadOnlyList<string> ThreadNames(int pid)
    {
        var names = new List<string>();
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                names.Add(File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n'));
            }
            catch (IOException)
            {
                // The thread ended while we looked.
            }
        }

        return names;
    }

    private static HashSet<string> SocketInodes(int pid)
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(fd).LinkTarget;
            }
            catch (IOException)
            {
                continue; // closed while we looked
            }

            // "socket:[12345]"
            if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal))
                inodes.Add(target["socket:[".Length..^1]);
        }

        return inodes;
    }
}
