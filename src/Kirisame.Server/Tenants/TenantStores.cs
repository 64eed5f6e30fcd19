using Kirisame.Broker.Storage;
using Kirisame.Broker.Tenants;
using Kirisame.Storage.RocksDb;
using Microsoft.Extensions.Logging;

namespace Kirisame.Server.Tenants;

/// Each tenant's RocksDB store (docs/adr/0021-tenants.md): a folder per tenant, `tenants/NAME` under the default
/// tenant's data folder, with the default store's durability mode (so a tenant's PUBACK also waits for the commit in
/// durability sync). RocksDB leaves the `tenants` folder alone: it only touches files whose names it gave.
internal sealed class TenantStores(StorageOptions options, ILoggerFactory loggers) : ITenantStorage
{
    /// The meter of the tenants' stores: exporters subscribe to `Kirisame` only, which is the default store's.
    public const string MeterName = "Kirisame.Tenant";

    private readonly string _root = Path.Combine(Path.GetFullPath(options.DataDirectory), "tenants");

    public (IBrokerStore Store, StoredState State) Open(string tenant)
    {
        var store = RocksDbStore.Open(new RocksDbStoreOptions { DataDirectory = FolderOf(tenant), Durability = options.Durability, MeterName = MeterName },
            loggers.CreateLogger("Kirisame.Storage"));
        try
        {
            return (store, store.Load());
        }
        catch
        {
            store.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }

    public void Delete(string tenant)
    {
        var folder = FolderOf(tenant);
        if (Directory.Exists(folder))
            Directory.Delete(folder, recursive: true);
    }

    /// The tenant's folder. TenantDirectory.Invalid already refuses names that could leave the tenants folder (no '/',
    /// no leading '.'); checked again here, as the folder is deleted recursively.
    public string FolderOf(string tenant)
    {
        var folder = Path.GetFullPath(Path.Combine(_root, tenant));
        if (Path.GetDirectoryName(folder) != _root || Path.GetFileName(folder) != tenant)
            throw new ArgumentException($"tenant name '{tenant}' does not name a folder under {_root}.", nameof(tenant));
        return folder;
    }
}
