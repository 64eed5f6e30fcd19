using Microsoft.Extensions.Logging;

namespace Kirisame.Broker.Tenants;

/// The tenants beside the default one: each a broker core of its own (MqttBroker.Tenants.cs), found by name or
/// by TLS server name, added, changed and removed while the broker runs (the tenants file, the management API).
/// Its lock is taken alone, never with a broker's.
public sealed class TenantDirectory
{
    /// The name of the default tenant: the operator's core, which clients reach without naming a tenant.
    public const string DefaultTenant = "default";

    private readonly MqttBroker _operator;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _tenants = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Entry> _byServerName = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, (Entry Entry, ITimer Timer)> _removed = new(StringComparer.Ordinal);

    private sealed class Entry(MqttBroker core, IReadOnlyList<string> serverNames)
    {
        public MqttBroker Core { get; } = core;

        public IReadOnlyList<string> ServerNames { get; set; } = serverNames;
    }

    internal TenantDirectory(MqttBroker @operator, TenantMapping mapping)
    {
        _operator = @operator;
        Mapping = mapping;
        _logger = @operator.LoggerFactory.CreateLogger("Kirisame.Tenants");
    }

    public TenantMapping Mapping { get; }

    /// A tenant name: letters, digits, '-', '_' and '.', 1 to 64 of them; never the separator nor "default".
    public static string? Invalid(string? name, string separator) =>
        string.IsNullOrEmpty(name) ? "a tenant needs a name"
        : name.Length > 64 ? "a tenant name has at most 64 characters"
        : !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') ? $"tenant name '{name}' may contain only letters, digits, '-', '_' and '.'"
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
    /// A tenant removed less than <see cref="TenantMapping.RemovalGrace"/> ago comes back with its state. Returns
    /// null, or why not (a name taken by another tenant's server name, an invalid name).
    public string? Put(TenantDefinition definition)
    {
        if (Invalid(definition.Name, Mapping.Separator) is { } invalid)
            return invalid;
        MqttBroker? created = null;
        string how;
        lock (_lock)
        {
            foreach (var serverName in definition.ServerNames)
            {
                if (_byServerName.TryGetValue(serverName, out var other) && other.Core.TenantName != definition.Name)
                    return $"server name '{serverName}' belongs to tenant '{other.Core.TenantName}'";
            }

            if (_tenants.TryGetValue(definition.Name, out var entry))
            {
                how = "changed";
            }
            else if (_removed.Remove(definition.Name, out var removed))
            {
                removed.Timer.Dispose();
                entry = removed.Entry;
                entry.Core.Limits!.Removed = false;
                _tenants[definition.Name] = entry;
                how = "restored (its state kept)";
            }
            else
            {
                created = _operator.CreateTenant(definition.Name, definition.Quotas, definition.Authenticator, definition.Authorizer, definition.Methods);
                entry = new Entry(created, definition.ServerNames);
                _tenants[definition.Name] = entry;
                how = "added";
            }

            foreach (var old in entry.ServerNames)
                _byServerName.Remove(old);
            foreach (var serverName in definition.ServerNames)
                _byServerName[serverName] = entry;
            entry.ServerNames = definition.ServerNames;
            entry.Core.Limits!.Quotas = definition.Quotas;
            entry.Core.ReplaceSecurity(definition.Authenticator, definition.Authorizer, definition.Methods);
        }

        created?.Start();
        _logger.LogInformation("Tenant {Tenant} {How}: {Quotas}{ServerNames}", definition.Name, how, definition.Quotas,
            definition.ServerNames.Count == 0 ? "" : $"; server names {string.Join(", ", definition.ServerNames)}");
        return null;
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

        var disconnected = entry.Core.DisconnectAll();
        _logger.LogInformation("Tenant {Tenant} removed: {Count} clients disconnected; its state is deleted in {Grace} s unless it is added again",
            name, disconnected, Mapping.RemovalGrace.TotalSeconds);
        return true;
    }

    /// The grace period of a removed tenant is over: its core stops and its state goes with it.
    private void Forget(string name)
    {
        (Entry Entry, ITimer Timer) removed;
        lock (_lock)
        {
            if (!_removed.Remove(name, out removed))
                return; // added again meanwhile
        }

        removed.Timer.Dispose();
        _ = removed.Entry.Core.DisposeAsync().AsTask();
        _logger.LogInformation("Tenant {Tenant}: state deleted", name);
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

    internal Task StopAllAsync(CancellationToken cancellationToken)
    {
        List<MqttBroker> cores;
        lock (_lock)
        {
            cores = [.. _tenants.Values.Select(e => e.Core), .. _removed.Values.Select(r => r.Entry.Core)];
            foreach (var (_, timer) in _removed.Values)
                timer.Dispose();
        }

        return Task.WhenAll(cores.Select(core => core.StopAsync(cancellationToken)));
    }
}

/// The tenant a CONNECT maps to: <paramref name="Core"/> null when <paramref name="Name"/> names no tenant;
/// <paramref name="UserName"/> is the user name to authenticate within it (the tenant prefix taken off).
/// <paramref name="Stated"/>: the client named the tenant (user name, server name) rather than falling to a
/// default, which a tenant named by its credentials (a JWT claim, the HTTP hook's answer) may not contradict.
internal readonly record struct TenantChoice(MqttBroker? Core, string Name, string? UserName, bool Stated);
