using Kirisame.Broker.Tenants;

namespace Kirisame.Management;

/// Adding a tenant needs its password and ACL files loaded and its authentication built, which the hosting process
/// does (issue 18, item 1; docs/adr/0021-tenants.md). Listing, quotas and removal go to the broker's
/// <see cref="TenantDirectory"/> directly.
public interface ITenantAdmin
{
    /// Adds the tenant, or changes it when it exists. Null when done, else why not (a file that does not exist or
    /// parse, an invalid name, a server name of another tenant).
    public string? Put(TenantRequest request);
}

/// POST /api/v1/tenants: a tenant as in the tenants file. Paths are files on the server.
public sealed record TenantRequest(string? Name, string? PasswordFile, string? AclFile, bool? AllowAnonymous, IReadOnlyList<string>? ServerNames,
    TenantQuotas? Quotas);
