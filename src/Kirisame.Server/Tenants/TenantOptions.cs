namespace Kirisame.Server.Tenants;

/// The "Tenants" section (docs/adr/0021-tenants.md). Tenants are on when File is set or Enabled is true; without
/// either nothing is mapped and the broker behaves as it does without tenants.
internal sealed class TenantOptions
{
    public const string SectionName = "Tenants";

    /// Serve tenants added through the management API even without a tenants file.
    public bool Enabled { get; set; }

    /// The tenants file (JSON): each tenant's name, password file, ACL file, TLS server names and quotas. Re-read
    /// when it changes and on SIGHUP; tenants it no longer lists are removed.
    public string? File { get; set; }

    /// Between the tenant and the user name in a CONNECT's user name (`tenant:user`, RabbitMQ's convention).
    public string Separator { get; set; } = ":";

    /// How long a removed tenant's sessions and retained messages are kept (re-adding it gets them back).
    public TimeSpan RemovalGrace { get; set; } = TimeSpan.FromSeconds(30);

    public bool On => Enabled || File is not null;

    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrEmpty(Separator))
            yield return $"{SectionName}:Separator must not be empty.";
        if (RemovalGrace < TimeSpan.Zero)
            yield return $"{SectionName}:RemovalGrace must not be negative (was {RemovalGrace}).";
        if (File is not null && !System.IO.File.Exists(File))
            yield return $"{SectionName}:File: '{File}' does not exist.";
    }
}
