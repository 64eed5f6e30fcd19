using Kirisame.Broker.Storage;
using Microsoft.Extensions.Logging;

namespace Kirisame.Broker.Tenants;

/// The tenants beside the default one: each a broker core of its own (MqttBroker.Tenants.cs), found by name or
/// by TLS server name, added, changed and removed while the broker runs (the tenants file, the management API).
/// Its lock is taken alone, never with a broker's. With <see cref="ITenantStorage"/> each tenant has a store of its
/// own, opened when the tenant is added and deleted when its grace period after removal is over.
public sealed class TenantDirectory
{
    /// The name of the default tenant: the operator's core, which clients reach without naming a tenant.
    public const string DefaultTenant = "default";

    private readonly MqttBroker _operator;
    private readonly ILogger _logger;
    private readonly ITenantStorage? _storage;
    private readonly ITenantCluster? _cluster;
    private readonly Lock _lock = new();
    // Serializes adding and removing: a tenant's store opens (and is read) under it, outside _lock, so that connections
    // being mapped do not wait for a disk.
    private readonly Lock _changing = new();
    private readonly Dictionary<string, Entry> _tenants = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Entry> _byServerName = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, (Entry Entry, ITimer Timer)> _removed = new(StringComparer.Ordinal);
    // Removed tenants whose core is stopping and whose store is being deleted: adding one again waits for it.
    private readonly Dictionary<string, Task> _deleting = new(StringComparer.Ordinal);

    private sealed class Entry(MqttBroker core, IReadOnlyList<string> serverNames, IBrokerStore? store)
    {
        public MqttBroker Core { get; } = core;

        /// The tenant's own store (null without <see cref="ITenantStorage"/>: the core's is in memory).
        public IBrokerStore? Store { get; } = store;

        public IReadOnlyList<string> ServerNames { get; set; } = serverNames;
    }

    internal TenantDirectory(MqttBroker @operator, TenantMapping mapping, ITenantStorage? storage, ITenantCluster? cluster)
    {
        _operator = @operator;
        Mapping = mapping;
        _storage = storage;
        _cluster = cluster;
        _logger = @operator.LoggerFactory.CreateLogger("Kirisame.Tenants");
    }

    public TenantMapping Mapping { get; }

    /// A tenant name: letters, digits, '-', '_' and '.', 1 to 64 of them, not beginning with '.'; never the
    /// separator nor "default". It names the tenant's folder in the store (ITenantStorage): without '/' and without
    /// a leading '.' it can be neither "..", "." nor a hidden folder, so it never leaves the tenants folder.
    public static string? Invalid(string? name, string separator) =>
        string.IsNullOrEmpty(name) ? "a tenant needs a name"
        : name.Length > 64 ? "a tenant name has at most 64 characters"
        : !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') ? $"tenant name '{name}' may contain only letters, digits, '-', '_' and '.'"
        : name[0] == '.' ? $"tenant name '{name}' must not begin with '.'"
        : name.Contains(separator, StringComparison.Ordinal) ? $"tenant name '{name}' contains the separator '{separator}'"
        : name == DefaultTenant ? $"'{DefaultTenant}' is the default tenant's name"
        : null;

    public IReadOnlyList<string> Names
    {
        get
        {
            lock (_lock)
                return [.. _tenants.Keys];
        }
    }

    /// Every tenant, the default one first (the operator sees them all).
    public IReadOnlyList<TenantSnapshot> List()
    {
        List<Entry> entries;
        lock (_lock)
            entries = [.. _tenants.Values];
        return [_operator.Describe([]), .. entries.OrderBy(e => e.Core.TenantName, StringComparer.Ordinal).Select(e => e.Core.Describe(e.ServerNames))];
    }

    public TenantSnapshot? Get(string name)
    {
        if (name == DefaultTenant)
            return _operator.Describe([]);
        Entry? entry;
        lock (_lock)
            entry = _tenants.GetValueOrDefault(name);
        return entry?.Core.Describe(entry.ServerNames);
    }

    /// Adds a tenant, or changes one (its quotas, server names, password and ACL) without disturbing its clients.
    /// A tenant removed less than <see cref="TenantMapping.RemovalGrace"/> ago comes back with its state; a new one
    /// with what its store holds (a restart). Returns null, or why not (a name taken by another tenant's server name,
    /// an invalid name, a store that cannot be opened).
    public string? Put(TenantDefinition definition)
    {
        if (Invalid(definition.Name, Mapping.Separator) is { } invalid)
            return invalid;
        var name = definition.Name;
        string how;
        lock (_changing)
        {
            Entry? entry;
            lock (_lock)
            {
                foreach (var serverName in definition.ServerNames)
                {
                    if (_byServerName.TryGetValue(serverName, out var other) && other.Core.TenantName != name)
                        return $"server name '{serverName}' belongs to tenant '{other.Core.TenantName}'";
                }

                how = "changed";
                if (!_tenants.TryGetValue(name, out entry) && _removed.Remove(name, out var removed))
                {
                    removed.Timer.Dispose();
                    entry = removed.Entry;
                    entry.Core.Limits!.Removed = false;
                    _tenants[name] = entry;
                    how = "restored (its state kept)";
                }
            }

            if (entry is null)
            {
                if (Create(definition, out var why) is not { } made)
                    return why;
                entry = made;
                how = made.Store is null ? "added" : "added (its store opened)";
                // Started, and linked to the tenant on the other nodes, before a client can be mapped to it.
                made.Core.Start();
                _cluster?.Join(made.Core);
            }

            lock (_lock)
            {
                _tenants[name] = entry;
                foreach (var old in entry.ServerNames)
                    _byServerName.Remove(old);
                foreach (var serverName in definition.ServerNames)
                    _byServerName[serverName] = entry;
                entry.ServerNames = definition.ServerNames;
                entry.Core.Limits!.Quotas = definition.Quotas;
                entry.Core.ReplaceSecurity(definition.Authenticator, definition.Authorizer, definition.Methods);
            }
        }

        _logger.LogInformation("Tenant {Tenant} {How}: {Quotas}{ServerNames}", name, how, definition.Quotas,
            definition.ServerNames.Count == 0 ? "" : $"; server names {string.Join(", ", definition.ServerNames)}");
        return null;
    }

    /// A new tenant's core, with its store opened and read back when there is storage. Caller holds _changing.
    private Entry? Create(TenantDefinition definition, out string? why)
    {
        why = null;
        Task? deleting;
        lock (_lock)
            deleting = _deleting.GetValueOrDefault(definition.Name);
        deleting?.GetAwaiter().GetResult(); // its folder is gone before a new store opens there

        IBrokerStore? store = null;
        StoredState? state = null;
        if (_storage is not null)
        {
            try
            {
                (store, state) = _storage.Open(definition.Name);
            }
            catch (Exception ex)
            {
                why = $"tenant '{definition.Name}': its store cannot be used: {ex.Message}";
                return null;
            }
        }

        // In a cluster the core sees its store through the cluster (acknowledgements wait for the other nodes) and
        // claims client ids in the tenant's share of the cluster's registry; Entry.Store stays the store itself.
        var (coreStore, registry) = _cluster is null ? (store, null) : _cluster.Prepare(definition.Name, store);
        var core = _operator.CreateTenant(definition.Name, definition.Quotas, definition.Authenticator, definition.Authorizer, definition.Methods,
            coreStore, registry);
        if (state is not null)
            core.Restore(state);
        return new Entry(core, [], store);
    }

    /// Changes a tenant's quotas; false when there is no such tenant.
    public bool SetQuotas(string name, TenantQuotas quotas)
    {
        Entry? entry;
        lock (_lock)
            entry = _tenants.GetValueOrDefault(name);
        if (entry is null)
            return false;
        entry.Core.Limits!.Quotas = quotas;
        _logger.LogInformation("Tenant {Tenant} quotas: {Quotas}", name, quotas);
        return true;
    }

    /// Removes a tenant: new clients of it are refused and its clients disconnected now (0x98 Administrative
    /// action); its sessions and retained messages are deleted after <see cref="TenantMapping.RemovalGrace"/>,
    /// unless it is added again before. False when there is no such tenant.
    public bool Remove(string name)
    {
        Entry? entry;
        lock (_changing)
        {
            lock (_lock)
            {
                if (!_tenants.Remove(name, out entry))
                    return false;
                entry.Core.Limits!.Removed = true;
                foreach (var serverName in entry.ServerNames)
                    _byServerName.Remove(serverName);
                var timer = _operator.TimeProvider.CreateTimer(static state =>
                {
                    var (directory, removedName) = ((TenantDirectory, string))state!;
                    directory.Forget(removedName);
                }, (this, name), Mapping.RemovalGrace, Timeout.InfiniteTimeSpan);
                _removed[name] = (entry, timer);
            }
        }

        var disconnected = entry.Core.DisconnectAll();
        _logger.LogInformation("Tenant {Tenant} removed: {Count} clients disconnected; its state is deleted in {Grace} s unless it is added again",
            name, disconnected, Mapping.RemovalGrace.TotalSeconds);
        return true;
    }

    /// The grace period of a removed tenant is over: its core stops and its state goes with it (its store deleted).
    private void Forget(string name)
    {
        (Entry Entry, ITimer Timer) removed;
        lock (_changing)
        {
            lock (_lock)
            {
                if (!_removed.Remove(name, out removed))
                    return; // added again meanwhile
                _deleting[name] = DeleteAsync(name, removed.Entry);
            }
        }

        removed.Timer.Dispose();
    }

    private async Task DeleteAsync(string name, Entry entry)
    {
        await Task.Yield(); // not on the caller's thread, which holds the directory's locks
        try
        {
            if (_cluster is not null)
                await _cluster.LeaveAsync(entry.Core);
            await entry.Core.DisposeAsync();
            if (entry.Store is { } store)
            {
                await store.DisposeAsync();
                _storage!.Delete(name);
            }

            _logger.LogInformation("Tenant {Tenant}: state deleted", name);
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Tenant {Tenant}: deleting its state failed", name);
        }
        finally
        {
            lock (_lock)
                _deleting.Remove(name);
        }
    }

    /// Whether the directory knows a tenant named <paramref name="name"/> now (removed ones are not).
    public bool Contains(string name)
    {
        lock (_lock)
            return _tenants.ContainsKey(name);
    }

    /// The core of tenant <paramref name="name"/> (the operator's for "default"), or null when there is none.
    public MqttBroker? Find(string name)
    {
        if (name == DefaultTenant)
            return _operator;
        lock (_lock)
            return _tenants.GetValueOrDefault(name)?.Core;
    }

    /// Which tenant a CONNECT belongs to: by its user name, its TLS server name, its listener, or the default.
    internal TenantChoice Map(string? userName, ConnectionInfo info)
    {
        if (userName is not null && userName.IndexOf(Mapping.Separator, StringComparison.Ordinal) is var at and > 0)
        {
            var name = userName[..at];
            var rest = userName[(at + Mapping.Separator.Length)..];
            return new TenantChoice(Find(name), name, rest, Stated: true);
        }

        if (info.ServerName is { } serverName)
        {
            lock (_lock)
            {
                if (_byServerName.TryGetValue(serverName, out var entry))
                    return new TenantChoice(entry.Core, entry.Core.TenantName!, userName, Stated: true);
            }
        }

        if (Mapping.ListenerTenants.TryGetValue(info.Listener, out var listenerTenant))
            return new TenantChoice(Find(listenerTenant), listenerTenant, userName, Stated: false);
        return new TenantChoice(_operator, DefaultTenant, userName, Stated: false);
    }

    /// The broker stops: every tenant's core (its clients closed), and deletions in progress. The stores stay open
    /// until <see cref="DisposeStoresAsync"/>: in a cluster a tenant's node hands its persistent sessions to the other
    /// nodes after its clients are gone, which still reads and deletes in its store.
    internal async Task StopAllAsync(CancellationToken cancellationToken)
    {
        List<Entry> entries;
        List<Task> deleting;
        lock (_lock)
        {
            entries = Entries();
            foreach (var (_, timer) in _removed.Values)
                timer.Dispose();
            deleting = [.. _deleting.Values];
        }

        await Task.WhenAll(entries.Select(entry => entry.Core.StopAsync(cancellationToken)).Concat(deleting));
    }

    /// The broker is disposed, after every hosted service stopped: each tenant's store is closed (what is queued written).
    internal async Task DisposeStoresAsync()
    {
        List<Entry> entries;
        lock (_lock)
            entries = Entries();
        foreach (var entry in entries)
        {
            if (entry.Store is { } store)
                await store.DisposeAsync();
        }
    }

    /// Every tenant's entry, the removed ones in their grace period too. Caller holds _lock.
    private List<Entry> Entries() => [.. _tenants.Values, .. _removed.Values.Select(r => r.Entry)];
}

/// The tenant a CONNECT maps to: <paramref name="Core"/> null when <paramref name="Name"/> names no tenant;
/// <paramref name="UserName"/> is the user name to authenticate within it (the tenant prefix taken off).
/// <paramref name="Stated"/>: the client named the tenant (user name, server name) rather than falling to a
/// default, which a tenant named by its credentials (a JWT claim, the HTTP hook's answer) may not contradict.
internal readonly record struct TenantChoice(MqttBroker? Core, string Name, string? UserName, bool Stated);
