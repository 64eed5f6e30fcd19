using Kirisame.Broker.Tenants;

namespace Kirisame.Management;

/// Adding a tenant needs its password and ACL files loaded and its authentication built, which the hosting process
/// does (issue 18, item 1; docs/adr/0021-tenants.md); it also keeps what the API changed for the next start, so quotas
/// and removal go through it too. Listing goes to the broker's <see cref="TenantDirectory"/> directly.
public interface ITenantAdmin
{
    /// Adds the tenant, or changes it when it exists. Null when done, else why not (a file that does not exist or
    /// parse, an invalid name, a server name of another tenant).
    public string? Put(TenantRequest request);

    /// Replaces a tenant's quotas; false when there is no such tenant.
    public bool SetQuotas(string name, TenantQuotas quotas);

    /// Removes a tenant (<see cref="TenantDirectory.Remove"/>); false when there is no such tenant.
    public bool Remove(string name);
}

/// POST /api/v1/tenants: a tenant as in the tenants file. Paths are files on the server.
public sealed record TenantRequest(string? Name, string? PasswordFile, string? AclFile, bool? AllowAnonymous, IReadOnlyList<string>? ServerNames,
    TenantQuotas? Quotas);
