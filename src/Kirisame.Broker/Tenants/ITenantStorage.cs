using Kirisame.Broker.Storage;

namespace Kirisame.Broker.Tenants;

/// Where tenants keep what must survive a restart (docs/adr/0021-tenants.md): a store of its own per tenant, beside
/// the default tenant's. Without one (the broker in memory) a tenant's core has the in-memory store.
public interface ITenantStorage
{
    /// Opens the store of <paramref name="tenant"/> (creating it when new) and reads what it holds. Throws with a
    /// message for the operator when it cannot be used; the tenant is then not added.
    public (IBrokerStore Store, StoredState State) Open(string tenant);

    /// Deletes what <paramref name="tenant"/>'s store held, once its grace period after removal is over and the
    /// store was disposed.
    public void Delete(string tenant);
}
