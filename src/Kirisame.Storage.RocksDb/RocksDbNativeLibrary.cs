using System.Runtime.CompilerServices;

namespace Kirisame.Storage.RocksDb;

/// Loads RocksDB's native library before the store first touches it, so that a missing one is a clear start-up
/// error rather than a TypeInitializationException with a page of searched paths (issue 17 item 7).
///
/// RocksDbSharp finds the library itself (dlopen of paths under the current folder and the application's
/// folder), not through .NET's native search directories. A single-file build extracts its native libraries
/// to a folder of its own (under ~/.net, or DOTNET_BUNDLE_EXTRACT_BASE_DIR) that RocksDbSharp never looks in;
/// for that one case the current folder is that folder while the library loads. docs/adr/0016.
public static class RocksDbNativeLibrary
{
    private static readonly Lock s_gate = new();
    private static bool s_loaded;

    /// Loads the library once; throws <see cref="StoreOpenException"/> when it cannot be.
    public static void EnsureLoaded()
    {
        lock (s_gate)
        {
            if (s_loaded)
                return;
            var extracted = SingleFileExtractionFolder();
            var previous = extracted is null ? null : Directory.GetCurrentDirectory();
            try
            {
                if (extracted is not null)
                    Directory.SetCurrentDirectory(extracted);
                RuntimeHelpers.RunClassConstructor(typeof(RocksDbSharp.Native).TypeHandle);
                s_loaded = true;
            }
            catch (TypeInitializationException ex)
            {
                // The first line names the problem; the rest is every path RocksDbSharp tried.
                var reason = (ex.InnerException?.Message ?? ex.Message).Split('\n')[0].TrimEnd('\r', '.');
                throw new StoreOpenException(
                    $"RocksDB's native library (librocksdb) could not be loaded: {reason}. " +
                    "Reinstall Kirisame with its native libraries, or run with --in-memory to keep nothing on disk.", ex);
            }
            finally
            {
                if (previous is not null)
                    Directory.SetCurrentDirectory(previous);
            }
        }
    }

    /// In a single-file bundle (no assembly has a file of its own), the folder the runtime extracted the
    /// native libraries to: the native search directory holding librocksdb.
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("SingleFile", "IL3000",
        Justification = "An empty location is exactly what tells a single-file bundle apart.")]
    private static string? SingleFileExtractionFolder()
    {
        if (typeof(RocksDbNativeLibrary).Assembly.Location.Length != 0)
            return null;
        var directories = AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") as string ?? "";
        return directories.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .FirstOrDefault(d => File.Exists(Path.Combine(d, "librocksdb.so")) || File.Exists(Path.Combine(d, "librocksdb.dylib")));
    }
}
