using System.Net;
using System.Text;
using Kirisame.Broker.Security;
using Kirisame.Management;

namespace Kirisame.Server;

/// Users, ACL files and bans as the management API changes them. Users are those of Security:PasswordFile (the
/// file the broker watches, so a change is in force within a second); a listener's own password file is edited
/// with `kirisame passwd`. Entries are PBKDF2-SHA512, as `kirisame passwd` writes them (Mosquitto reads them too).
internal sealed class SecurityAdministration(string? passwordFile, IReadOnlyCollection<WatchedFile<AclFile>> aclFiles, FailedLoginGuard guard) : ISecurityAdmin
{
    /// Two changes at once would each rewrite the file from what they read: one would be lost.
    private readonly Lock _writing = new();

    public string? PasswordFile { get; } = passwordFile;

    public IReadOnlyList<string> Users() =>
        File.Exists(PasswordFile) ? [.. Broker.Security.PasswordFile.Parse(File.ReadAllText(PasswordFile!)).UserNames.Order(StringComparer.Ordinal)] : [];

    public bool SetPassword(string userName, string password, bool mustExist)
    {
        lock (_writing)
        {
            if (mustExist && !Users().Contains(userName, StringComparer.Ordinal))
                return false;
            Broker.Security.PasswordFile.SetEntry(PasswordFile!, userName, PasswordHash.Create(Encoding.UTF8.GetBytes(password)));
            return true;
        }
    }

    public bool DeleteUser(string userName)
    {
        lock (_writing)
            return File.Exists(PasswordFile) && Broker.Security.PasswordFile.RemoveEntry(PasswordFile!, userName);
    }

    public IReadOnlyList<string> ReloadAcls() =>
        [.. aclFiles.Select(file => file.ReloadNow() is { } error ? $"{file.Path}: {error}" : null).OfType<string>()];

    public IReadOnlyList<BannedAddress> Bans() => guard.Bans();

    public bool Lift(IPAddress address) => guard.Lift(address);
}
