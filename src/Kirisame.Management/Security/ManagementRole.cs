namespace Kirisame.Management.Security;

/// What an admin user or token may do, as RabbitMQ's management tags: each role includes the ones below it.
/// Viewer reads clients, sessions, subscriptions and retained messages; Monitoring also reads /metrics and the
/// effective configuration; Administrator also acts (kick, delete, subscribe, unsubscribe, publish).
public enum ManagementRole
{
    Viewer = 1,
    Monitoring = 2,
    Administrator = 3,
}

public static class ManagementRoles
{
    /// The role names as written in configuration and token files, and as policy names.
    public const string Viewer = "viewer";
    public const string Monitoring = "monitoring";
    public const string Administrator = "administrator";

    public static bool TryParse(string? text, out ManagementRole role)
    {
        role = text?.Trim().ToLowerInvariant() switch
        {
            Viewer => ManagementRole.Viewer,
            Monitoring => ManagementRole.Monitoring,
            Administrator => ManagementRole.Administrator,
            _ => 0,
        };
        return role != 0;
    }

    public static string Name(ManagementRole role) => role switch
    {
        ManagementRole.Viewer => Viewer,
        ManagementRole.Monitoring => Monitoring,
        ManagementRole.Administrator => Administrator,
        _ => throw new ArgumentOutOfRangeException(nameof(role)),
    };

    /// The role and every role it includes (an administrator is also a monitoring user and a viewer).
    internal static IEnumerable<string> Granted(ManagementRole role) =>
        Enum.GetValues<ManagementRole>().Where(r => r <= role).Select(Name);
}
