namespace Kirisame.Broker.Security;

/// Authentication and authorization, bound from the "Security" configuration section.
public sealed class SecurityOptions
{
    public const string SectionName = "Security";

    /// Admit clients that send no user name (and no verified client certificate). Unset: allowed only while
    /// every listener is on a loopback address and no password file is configured; a server reachable from
    /// the network with no authentication refuses to start until this is set explicitly.
    public bool? AllowAnonymous { get; set; }

    /// Mosquitto-format password file (mosquitto_passwd or `kirisame passwd`), re-read when it changes.
    public string? PasswordFile { get; set; }

    /// Mosquitto-format ACL file, re-read when it changes. Unset: every admitted client may do anything
    /// except publish to $SYS.
    public string? AclFile { get; set; }

    /// User name given to clients admitted without one (RabbitMQ's default_user), so the ACL can grant
    /// anonymous clients a named set of rules. Off unless set.
    public string? DefaultUser { get; set; }

    /// How long a refused login waits before its CONNACK: slows password guessing from one connection.
    public TimeSpan FailedLoginDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// Failed logins from one address within <see cref="FailedLoginWindow"/> after which the address is
    /// banned for <see cref="BanDuration"/>; 0 never bans.
    public int MaxFailedLogins { get; set; } = 10;

    public TimeSpan FailedLoginWindow { get; set; } = TimeSpan.FromMinutes(1);

    public TimeSpan BanDuration { get; set; } = TimeSpan.FromMinutes(5);

    public IEnumerable<string> Validate()
    {
        if (PasswordFile is { } passwords && !File.Exists(passwords))
            yield return $"{SectionName}:PasswordFile: '{passwords}' does not exist (create it with 'kirisame passwd FILE USER').";
        if (AclFile is { } acl && !File.Exists(acl))
            yield return $"{SectionName}:AclFile: '{acl}' does not exist.";
        if (DefaultUser is { Length: 0 })
            yield return $"{SectionName}:DefaultUser must not be empty (leave it out to turn it off).";
        if (FailedLoginDelay < TimeSpan.Zero || FailedLoginDelay > TimeSpan.FromMinutes(1))
            yield return $"{SectionName}:FailedLoginDelay must be between 00:00:00 and 00:01:00 (was {FailedLoginDelay}).";
        if (MaxFailedLogins < 0)
            yield return $"{SectionName}:MaxFailedLogins must be 0 (never ban) or more (was {MaxFailedLogins}).";
        if (FailedLoginWindow <= TimeSpan.Zero)
            yield return $"{SectionName}:FailedLoginWindow must be positive.";
        if (BanDuration <= TimeSpan.Zero)
            yield return $"{SectionName}:BanDuration must be positive.";
    }
}
