using Kirisame.Broker.Security;
using Kirisame.Broker.Tenants;
using Microsoft.Extensions.Logging;

namespace Kirisame.Server.Tenants;

/// The tenants the management API added, kept in the data folder (`tenants.api.json`, docs/adr/0021-tenants.md) so that
/// they come back at start, after the tenants file's: the tenants file's format, paths absolute. Every change through
/// the API (added, quotas, removed) writes it whole, atomically — a temporary file renamed over it — so a crash leaves
/// the old or the new list, never half of one. Not used in memory (`--in-memory`): nothing survives a restart there.
internal sealed class ApiTenantsFile
{
    public const string FileName = "tenants.api.json";

    private readonly Lock _lock = new();
    private readonly Dictionary<string, TenantEntry> _entries;
    private readonly ILogger _logger;

    private ApiTenantsFile(string path, IEnumerable<TenantEntry> entries, ILogger logger)
    {
        Path = path;
        _entries = entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
        _logger = logger;
    }

    public string Path { get; }

    /// Reads the file in <paramref name="dataDirectory"/> (no tenants when it does not exist yet). FormatException when it
    /// does not parse or names a file that does not exist, as for the tenants file: the server does not start.
    public static ApiTenantsFile Load(string dataDirectory, string separator, ILogger logger)
    {
        var folder = System.IO.Path.GetFullPath(dataDirectory);
        var path = System.IO.Path.Combine(folder, FileName);
        var entries = File.Exists(path) ? TenantsFile.Parse(File.ReadAllText(path), folder, separator) : [];
        return new ApiTenantsFile(path, entries, logger);
    }

    public IReadOnlyList<TenantEntry> Entries
    {
        get
        {
            lock (_lock)
                return [.. _entries.Values];
        }
    }

    public void Put(TenantEntry entry)
    {
        lock (_lock)
        {
            _entries[entry.Name] = entry;
            Save();
        }
    }

    /// A tenant's new quotas, when the API added it (a tenants file's tenant is not written here).
    public void SetQuotas(string name, TenantQuotas quotas)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(name, out var entry))
                return;
            _entries[name] = entry with { Quotas = quotas };
            Save();
        }
    }

    public void Remove(string name)
    {
        lock (_lock)
        {
            if (_entries.Remove(name))
                Save();
        }
    }

    /// Caller holds _lock. A failure to write leaves the change in force until the server stops, and says so: the
    /// tenant itself is already added or removed.
    private void Save()
    {
        try
        {
            LineFile.Replace(Path, [TenantsFile.Write(_entries.Values.OrderBy(e => e.Name, StringComparer.Ordinal))], LineFile.OwnerOnly);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _logger.LogError("Tenants added through the API: {Path} could not be written ({Message}); the change lasts until the server stops",
                Path, ex.Message);
        }
    }
}
