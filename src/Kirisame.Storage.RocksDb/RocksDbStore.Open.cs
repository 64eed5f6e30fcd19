using RocksDbSharp;

namespace Kirisame.Storage.RocksDb;

public sealed partial class RocksDbStore
{
    /// Table files RocksDB keeps open at most (its default, -1, is every file of the database): the broker's
    /// connection budget is what the descriptor limit leaves after this, so it must be bounded. Beyond it,
    /// RocksDB closes the least recently used table and reopens it when read; a broker's database is small
    /// and read mostly at start-up, so this costs nothing in practice.
    public const int MaxOpenFiles = 256;

    /// Descriptors the store may hold open at most: the table files, plus the write-ahead logs, MANIFEST,
    /// LOCK, the info LOG, the folder itself and the outputs of a flush and a compaction in progress.
    public const int MaxDescriptors = MaxOpenFiles + 32;

    private RocksDbSharp.RocksDb? _db;
    private readonly WriteOptions _writeOptions;

    private static WriteOptions NewWriteOptions(DurabilityMode durability) => durability switch
    {
        DurabilityMode.Sync => new WriteOptions().SetSync(true),
        DurabilityMode.Batched => new WriteOptions().SetSync(false),
        _ => new WriteOptions().DisableWal(1),
    };

    /// Opens the folder and checks that it is ours and of a format this build reads. A folder that is not (or
    /// no longer) readable is never silently replaced by an empty one.
    private static RocksDbSharp.RocksDb OpenDatabase(RocksDbStoreOptions options)
    {
        RocksDbNativeLibrary.EnsureLoaded();
        var directory = Path.GetFullPath(options.DataDirectory);
        if (File.Exists(directory))
            throw new StoreOpenException($"data folder {directory} is a file, not a folder.");
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StoreOpenException($"cannot create data folder {directory}: {ex.Message}", ex);
        }

        // RocksDB would happily create a database inside any folder; only an empty one, or one with a
        // database in it, is taken.
        if (!File.Exists(Path.Combine(directory, "CURRENT")) && Directory.EnumerateFileSystemEntries(directory).Any())
            throw new StoreOpenException($"data folder {directory} is not empty and holds no Kirisame data (no RocksDB CURRENT file); refusing to use it. Give an empty or new folder with --data-dir.");

        var db = OpenRaw(directory);
        try
        {
            CheckFormat(db, directory);
        }
        catch
        {
            db.Dispose();
            throw;
        }

        return db;
    }

    private static RocksDbSharp.RocksDb OpenRaw(string directory)
    {
        var dbOptions = new DbOptions()
            .SetCreateIfMissing(true)
            .SetParanoidChecks(true)
            .SetKeepLogFileNum(2)
            .SetMaxOpenFiles(MaxOpenFiles)
            .SetMaxTotalWalSize(64UL * 1024 * 1024);
        try
        {
            return RocksDbSharp.RocksDb.Open(dbOptions, directory);
        }
        catch (RocksDbException ex)
        {
            throw Explain(ex, directory);
        }
    }

    internal static StoreOpenException Explain(RocksDbException ex, string directory)
    {
        var message = ex.Message;
        if (message.Contains("lock", StringComparison.OrdinalIgnoreCase) && (message.Contains("LOCK", StringComparison.Ordinal) || message.Contains("unavailable", StringComparison.OrdinalIgnoreCase)))
            return new StoreOpenException($"data folder {directory} is in use by another process (its LOCK is held); is another kirisame running on it? ({message})", ex) { InUse = true };
        if (message.Contains("Corruption", StringComparison.OrdinalIgnoreCase))
            return new StoreOpenException($"data folder {directory} is corrupt: {message}. Refusing to start with it; move it away (and keep it for recovery) to start empty.", ex);
        if (message.Contains("Permission denied", StringComparison.OrdinalIgnoreCase) || message.Contains("Read-only", StringComparison.OrdinalIgnoreCase))
            return new StoreOpenException($"data folder {directory} is not writable: {message}", ex);
        return new StoreOpenException($"cannot open data folder {directory}: {message}", ex);
    }

    private static void CheckFormat(RocksDbSharp.RocksDb db, string directory)
    {
        var format = db.Get(StorageKeys.Format);
        if (format is null)
        {
            using (var iterator = db.NewIterator())
            {
                iterator.SeekToFirst();
                if (iterator.Valid())
                    throw new StoreOpenException($"data folder {directory} holds a RocksDB database without a Kirisame format record: it was not written by Kirisame. Refusing to use it.");
            }

            // A new folder: record the format before anything else is written.
            var sync = new WriteOptions().SetSync(true);
            db.Put(StorageKeys.Format, StorageFormat.EncodeFormat(), writeOptions: sync);
            return;
        }

        uint version;
        try
        {
            version = StorageFormat.DecodeFormat(format);
        }
        catch (StoreFormatException)
        {
            throw new StoreOpenException($"data folder {directory} has a format record that is not Kirisame's. Refusing to use it.");
        }

        if (version > StorageFormat.DataFormatVersion)
            throw new StoreOpenException($"data folder {directory} was written by a newer Kirisame (data format {version}; this build reads format {StorageFormat.DataFormatVersion}). Upgrade kirisame, or use another folder.");
        if (version < StorageFormat.OldestDataFormatVersion)
            throw new StoreOpenException($"data folder {directory} has data format {version}, which this build cannot read (it reads formats {StorageFormat.OldestDataFormatVersion} to {StorageFormat.DataFormatVersion}).");
        if (version < StorageFormat.DataFormatVersion)
        {
            // Everything of the older format is read as it is; what this build writes from now on is of its own format,
            // which the folder records before anything is written, so an older build refuses it rather than misread it.
            var sync = new WriteOptions().SetSync(true);
            db.Put(StorageKeys.Format, StorageFormat.EncodeFormat(), writeOptions: sync);
        }
    }
}
