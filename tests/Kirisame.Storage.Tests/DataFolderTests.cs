using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;
using Kirisame.Storage.RocksDb;
using RocksDbSharp;

namespace Kirisame.Storage.Tests;

/// A data folder that cannot be used stops start-up with a message that says why; it is never silently
/// replaced by an empty store.
public sealed class DataFolderTests
{
    [Fact]
    public async Task MissingFolder_IsCreated_WithAFormatRecord()
    {
        using var folder = new TempFolder();
        var path = folder.Sub("new/nested");
        await using (var store = Samples.Open(path, TimeProvider.System))
            Assert.Empty(store.Load().Sessions);
        using var db = RocksDbSharp.RocksDb.Open(new DbOptions(), path);
        Assert.Equal(StorageFormat.EncodeFormat(), db.Get(StorageKeys.Format));
    }

    [Fact]
    public async Task SecondOpen_OfTheSameFolder_IsRefused()
    {
        using var folder = new TempFolder();
        await using var first = Samples.Open(folder.Path, TimeProvider.System);
        var error = Assert.Throws<StoreOpenException>(() => Samples.Open(folder.Path, TimeProvider.System));
        Assert.Contains("in use by another process", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NewerFormat_IsRefused()
    {
        using var folder = new TempFolder();
        await Samples.Open(folder.Path, TimeProvider.System).DisposeAsync();
        using (var db = RocksDbSharp.RocksDb.Open(new DbOptions(), folder.Path))
        {
            var newer = StorageFormat.EncodeFormat();
            newer[^1] = 3;
            db.Put(StorageKeys.Format, newer);
        }

        var error = Assert.Throws<StoreOpenException>(() => Samples.Open(folder.Path, TimeProvider.System));
        Assert.Contains("newer Kirisame (data format 3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OlderFormat_IsRead_AndMarkedAsTheCurrentOne()
    {
        // Format 1 is read (its queue entries do not record their message's size); once opened, the folder says 2,
        // so that a build that reads only format 1 refuses it rather than misreading the entries written since.
        using var folder = new TempFolder();
        await Samples.Open(folder.Path, TimeProvider.System).DisposeAsync();
        using (var db = RocksDbSharp.RocksDb.Open(new DbOptions(), folder.Path))
        {
            var older = StorageFormat.EncodeFormat();
            older[^1] = 1;
            db.Put(StorageKeys.Format, older);
        }

        await Samples.Open(folder.Path, TimeProvider.System).DisposeAsync();
        using (var db = RocksDbSharp.RocksDb.Open(new DbOptions(), folder.Path))
            Assert.Equal(2u, StorageFormat.DecodeFormat(db.Get(StorageKeys.Format)));
    }

    [Fact]
    public void ForeignDatabase_IsRefused()
    {
        using var folder = new TempFolder();
        using (var db = RocksDbSharp.RocksDb.Open(new DbOptions().SetCreateIfMissing(true), folder.Path))
            db.Put("someone"u8.ToArray(), "else"u8.ToArray());
        var error = Assert.Throws<StoreOpenException>(() => Samples.Open(folder.Path, TimeProvider.System));
        Assert.Contains("not written by Kirisame", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FolderWithOtherFiles_IsRefused()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.Sub("notes.txt"), "mine");
        var error = Assert.Throws<StoreOpenException>(() => Samples.Open(folder.Path, TimeProvider.System));
        Assert.Contains("holds no Kirisame data", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PathThatIsAFile_IsRefused()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.Sub("file"), "x");
        Assert.Contains("is a file", Assert.Throws<StoreOpenException>(() => Samples.Open(folder.Sub("file"), TimeProvider.System)).Message, StringComparison.Ordinal);
        Assert.Contains("cannot create", Assert.Throws<StoreOpenException>(() => Samples.Open(folder.Sub("file/data"), TimeProvider.System)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CorruptFolder_IsRefused()
    {
        using var folder = new TempFolder();
        await using (var store = Samples.Open(folder.Path, TimeProvider.System))
        {
            store.Load();
            store.PutSession(new SessionRecord("c", 60));
            await Samples.DurableAsync(store);
        }

        foreach (var manifest in Directory.GetFiles(folder.Path, "MANIFEST-*"))
            File.WriteAllBytes(manifest, [.. Enumerable.Repeat((byte)0x5A, 4096)]);
        var error = Assert.Throws<StoreOpenException>(() => Samples.Open(folder.Path, TimeProvider.System));
        Assert.Contains("corrupt", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnreadableRecord_StopsLoad()
    {
        using var folder = new TempFolder();
        await Samples.Open(folder.Path, TimeProvider.System).DisposeAsync();
        using (var db = RocksDbSharp.RocksDb.Open(new DbOptions(), folder.Path))
            db.Put(StorageKeys.SessionMeta("c"), new byte[] { 99, 1, 2 });

        await using var store = Samples.Open(folder.Path, TimeProvider.System);
        var error = Assert.Throws<StoreOpenException>(() => store.Load());
        Assert.Contains("record this build cannot read", error.Message, StringComparison.Ordinal);
    }
}
