using System.Net;
using Kirisame.Broker.Security;
using Microsoft.Extensions.Logging;

namespace Kirisame.Management;

/// The broker's users and bans as the management API changes them: what the hosting process knows of its
/// security files and its failed-login guard (the broker knows neither).
public interface ISecurityAdmin
{
    /// The password file users are managed in (Security:PasswordFile), or null when there is none.
    public string? PasswordFile { get; }

    /// The user names in <see cref="PasswordFile"/>, sorted.
    public IReadOnlyList<string> Users();

    /// Adds the user, or changes its password; in force for new logins within a second (the file is watched).
    /// Returns false when <paramref name="mustExist"/> and there is no such user.
    public bool SetPassword(string userName, string password, bool mustExist);

    /// Deletes the user. False when there was none.
    public bool DeleteUser(string userName);

    /// Re-reads every ACL file now. Each file that cannot be used is named with why (and keeps its rules).
    public IReadOnlyList<string> ReloadAcls();

    /// Addresses banned after failed logins.
    public IReadOnlyList<BannedAddress> Bans();

    /// Lifts a ban. False when the address was not banned.
    public bool Lift(IPAddress address);
}

/// Log levels changed while the process runs (no restart): the level of one category, or of all (Default).
public interface IRuntimeLogLevels
{
    /// Category → level in force, "Default" included.
    public IReadOnlyDictionary<string, LogLevel> Levels();

    /// Sets the level of <paramref name="category"/> (null: Default) for every logger from now on.
    public void Set(string? category, LogLevel level);
}
