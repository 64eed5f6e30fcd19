using Kirisame.Storage.RocksDb;

namespace Kirisame.Server;

/// Where persistent state goes, bound from the "Storage" section (--data-dir, --durability, --in-memory).
internal sealed class StorageOptions
{
    public const string SectionName = "Storage";

    /// The data folder; created if missing.
    public string DataDirectory { get; set; } = "./data";

    /// sync (acknowledge after an fsync'd group commit), batched (fsync every 100 ms, acknowledge before) or none.
    public DurabilityMode Durability { get; set; } = DurabilityMode.Sync;

    /// Keep nothing across restarts: no data folder at all.
    public bool InMemory { get; set; }

    public IEnumerable<string> Validate()
    {
        if (!InMemory && string.IsNullOrWhiteSpace(DataDirectory))
            yield return $"{SectionName}:DataDirectory (--data-dir) must name a folder.";
    }
}
