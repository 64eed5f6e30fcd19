using System.Runtime.InteropServices;

namespace Kirisame.Broker.Security;

/// Gives a replacement file the owner and group of the file it replaces (Linux). A password file that the
/// operator made `root:mosquitto` 0640, so that Mosquitto (which drops to its own user) can read it, stays so
/// after `kirisame passwd` rewrites it by renaming a new file over it (issue 17 item 8).
internal static partial class FileOwnership
{
    private const int CurrentDirectory = -100; // AT_FDCWD
    private const uint UidAndGid = 0x8 | 0x10; // STATX_UID | STATX_GID

    /// Best effort: only root (or the owner, for a group it is in) may chown; otherwise the file becomes the
    /// writer's, as any editor's save-and-rename would make it.
    public static void CopyTo(string from, string to)
    {
        if (!OperatingSystem.IsLinux())
            return;
        // struct statx: stx_uid at byte 20, stx_gid at byte 24, the same on every architecture.
        var buffer = new byte[256];
        if (StatX(CurrentDirectory, from, 0, UidAndGid, buffer) != 0)
            return;
        var uid = BitConverter.ToUInt32(buffer, 20);
        var gid = BitConverter.ToUInt32(buffer, 24);
        _ = ChangeOwner(to, uid, gid);
    }

#pragma warning disable SYSLIB1054 // LibraryImport would need unsafe code in the broker for two calls
    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int StatX(int directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);

    [DllImport("libc", EntryPoint = "chown", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int ChangeOwner([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint owner, uint group);
#pragma warning restore SYSLIB1054
}
