using Kirisame.Broker;
using Kirisame.Broker.Security;
using Kirisame.Broker.Tenants;
using Kirisame.Management;
using Kirisame.Server.Authentication;
using Microsoft.Extensions.Logging;

namespace Kirisame.Server.Tenants;

/// The server's side of tenants (docs/adr/0021-tenants.md): builds each tenant's authentication from its password
/// and ACL files (with the configured JWT/HTTP sources around them, as for a listener), applies the tenants file at
/// start and whenever it changes (checked once a second; SIGHUP re-reads it), and adds, changes and removes tenants for
/// the management API, keeping the API's tenants in the data folder (<see cref="ApiTenantsFile"/>) to add them again at
/// start, after the tenants file's.
internal sealed class TenantHost : ITenantAdmin, IDisposable
{
    private readonly TenantOptions _options;
    private readonly AuthenticationSources _sources;
    private readonly SecurityOptions _security;
    private readonly ILogger _logger;
    private readonly WatchedFile<IReadOnlyList<TenantEntry>>? _file;
    private readonly ApiTenantsFile? _apiFile;
    private readonly Dictionary<string, WatchedFile<PasswordFile>> _passwordFiles = new(StringComparer.Ordinal);
    private readonly Dictionary<string, WatchedFile<AclFile>> _aclFiles = new(StringComparer.Ordinal);
    private readonly Lock _applying = new();
    private IReadOnlyList<TenantEntry> _applied = [];
    private IReadOnlyList<TenantEntry> _apiAtStart = [];
    private TenantDirectory? _directory;
    private ITimer? _timer;
    private TenantMetrics? _metrics;

    private TenantHost(TenantOptions options, AuthenticationSources sources, SecurityOptions security, ILogger logger,
        WatchedFile<IReadOnlyList<TenantEntry>>? file, ApiTenantsFile? apiFile)
    {
        _options = options;
        _sources = sources;
        _security = security;
        _logger = logger;
        _file = file;
        _apiFile = apiFile;
    }

    /// Reads the tenants file and the API's (in the data folder; none in memory); null (with the error) when one
    /// cannot be used: the server does not start.
    public static TenantHost? Create(TenantOptions options, StorageOptions storage, AuthenticationSources sources, SecurityOptions security,
        ILoggerFactory loggers, List<string> errors)
    {
        var logger = loggers.CreateLogger("Kirisame.Tenants");
        WatchedFile<IReadOnlyList<TenantEntry>>? file = null;
        if (options.File is { } path)
        {
            try
            {
                file = WatchedFile.Load(Path.GetFullPath(path), TenantsFile.Parser(path, options.Separator), logger);
            }
            catch (Exception ex) when (ex is FormatException or IOException or UnauthorizedAccessException)
            {
                errors.Add($"{TenantOptions.SectionName}:File: {path}: {ex.Message}");
                return null;
            }
        }

        ApiTenantsFile? apiFile = null;
        if (!storage.InMemory)
        {
            try
            {
                apiFile = ApiTenantsFile.Load(storage.DataDirectory, options.Separator, logger);
            }
            catch (Exception ex) when (ex is FormatException or IOException or UnauthorizedAccessException)
            {
                errors.Add($"{Path.Combine(Path.GetFullPath(storage.DataDirectory), ApiTenantsFile.FileName)} (tenants added through the API): {ex.Message}");
                return null;
            }
        }

        var host = new TenantHost(options, sources, security, logger, file, apiFile);
        // Each tenant's password and ACL files load now, so that one that does not parse stops the start.
        foreach (var entry in file?.Current ?? [])
        {
            if (host.TryDefine(entry, out _) is { } why)
                errors.Add($"{TenantOptions.SectionName}:File: {options.File}: {why}");
        }

        host._apiAtStart = [.. host.ApiTenants()];
        foreach (var entry in host._apiAtStart)
        {
            if (host.TryDefine(entry, out _) is { } why)
                errors.Add($"{apiFile!.Path}: {why}");
        }

        return errors.Count > 0 ? null : host;
    }

    /// The API's tenants to add at start: those the tenants file does not define (the file wins; the other is logged).
    /// Read once, in Create.
    private IEnumerable<TenantEntry> ApiTenants()
    {
        foreach (var entry in _apiFile?.Entries ?? [])
        {
            if (_file?.Current.Any(e => e.Name == entry.Name) == true)
                _logger.LogWarning("Tenant {Tenant} in {Path} (added through the API) ignored: the tenants file {File} defines it", entry.Name,
                    _apiFile!.Path, _file.Path);
            else
                yield return entry;
        }
    }

    /// Turns tenants on in the broker and adds the file's tenants, then the API's (when the broker is built), each with its store
    /// (<paramref name="storage"/>; null when the broker is in memory), each a node of <paramref name="cluster"/> when the
    /// server is one (null on a single node).
    public void Attach(MqttBroker broker, IReadOnlyDictionary<string, string> listenerTenants, ITenantStorage? storage, ITenantCluster? cluster)
    {
        _directory = broker.EnableTenants(new TenantMapping
        {
            Separator = _options.Separator,
            ListenerTenants = listenerTenants,
            RemovalGrace = _options.RemovalGrace,
        }, storage, cluster);
        _metrics = new TenantMetrics(_directory);
        if (_file is not null)
            Apply(_file.Current);
        lock (_applying)
        {
            foreach (var entry in _apiAtStart)
            {
                var why = TryDefine(entry, out var definition) ?? _directory.Put(definition!);
                if (why is not null)
                    _logger.LogError("{Path}: tenant {Tenant} (added through the API) not applied: {Why}", _apiFile!.Path, entry.Name, why);
            }
        }

        if (_file is not null)
            _timer = TimeProvider.System.CreateTimer(static state => ((TenantHost)state!).Check(), this, WatchedFile.CheckInterval, WatchedFile.CheckInterval);
    }

    private void Check()
    {
        try
        {
            var current = _file!.Current; // re-read when it changed (or after SIGHUP); the same list otherwise
            if (!ReferenceEquals(current, Volatile.Read(ref _applied)))
                Apply(current);
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Applying the tenants file failed");
        }
    }

    /// Makes the directory match the file: its tenants added or changed, the ones it listed before and no longer does
    /// removed. Tenants added through the API are left alone.
    private void Apply(IReadOnlyList<TenantEntry> entries)
    {
        lock (_applying)
        {
            var directory = _directory!;
            foreach (var entry in entries)
            {
                var why = TryDefine(entry, out var definition) ?? directory.Put(definition!);
                if (why is not null)
                    _logger.LogError("Tenants file {Path}: tenant {Tenant} not applied: {Why}", _file!.Path, entry.Name, why);
            }

            foreach (var gone in _applied.Where(old => !entries.Any(e => e.Name == old.Name)))
                directory.Remove(gone.Name);
            Volatile.Write(ref _applied, entries);
        }
    }

    public string? Put(TenantRequest request)
    {
        if (_directory is null)
            return "tenants are not enabled";
        TenantEntry entry;
        try
        {
            var quotas = request.Quotas ?? TenantQuotas.None;
            if (TenantsFile.CheckQuotas(quotas) is { } bad)
                return bad;
            entry = new TenantEntry(request.Name!, Existing(request.PasswordFile), Existing(request.AclFile), request.AllowAnonymous ?? false,
                request.ServerNames ?? [], quotas);
        }
        catch (FormatException ex)
        {
            return ex.Message;
        }

        lock (_applying)
        {
            if ((TryDefine(entry, out var definition) ?? _directory.Put(definition!)) is { } why)
                return why;
            // A tenant the tenants file defines is the file's: the change lasts until the file changes or the server stops.
            if (!ListedInFile(entry.Name))
                _apiFile?.Put(entry);
            return null;
        }

        static string? Existing(string? path) =>
            path is null ? null : File.Exists(path) ? Path.GetFullPath(path) : throw new FormatException($"'{path}' does not exist on the server.");
    }

    public bool SetQuotas(string name, TenantQuotas quotas)
    {
        lock (_applying)
        {
            if (_directory?.SetQuotas(name, quotas) != true)
                return false;
            if (!ListedInFile(name))
                _apiFile?.SetQuotas(name, quotas);
            return true;
        }
    }

    public bool Remove(string name)
    {
        lock (_applying)
        {
            if (_directory?.Remove(name) != true)
                return false;
            _apiFile?.Remove(name); // not added again at start; a tenants file's tenant comes back with the file
            return true;
        }
    }

    /// Caller holds _applying.
    private bool ListedInFile(string name) => _applied.Any(e => e.Name == name);

    /// The tenant's authentication and authorization: its password file (or anonymous, when it allows it) in the
    /// configured chain of sources, its ACL (everything allowed without one) with the HTTP authorization hook when
    /// configured, and a failed-login guard of its own. Null, or why the files cannot be used.
    private string? TryDefine(TenantEntry entry, out TenantDefinition? definition)
    {
        definition = null;
        WatchedFile<PasswordFile>? passwords;
        WatchedFile<AclFile>? acl;
        try
        {
            passwords = Load(entry.PasswordFile, PasswordFile.Parse, _passwordFiles);
            acl = Load(entry.AclFile, AclFile.Parse, _aclFiles);
        }
        catch (Exception ex) when (ex is FormatException or IOException or UnauthorizedAccessException)
        {
            return $"tenant '{entry.Name}': {ex.Message}";
        }

        var guard = new FailedLoginGuard(_sources.Authenticator(new FileAuthenticator(passwords, entry.AllowAnonymous, defaultUser: null)),
            _security, TimeProvider.System, _logger);
        var authorizer = _sources.Authorizer(acl is null ? AllowAll.Instance : new AclAuthorizer(acl), "tenant " + entry.Name, entry.Name);
        definition = new TenantDefinition(entry.Name, entry.ServerNames, entry.Quotas, guard, authorizer) { Methods = Methods(passwords, guard) };
        return null;
    }

    /// The tenant's enhanced authentication methods, behind its failed-login guard as its passwords are: SCRAM-SHA-256
    /// with the `$scram-sha256$` users of its own password file (section 4.12), and the JWT method when the Jwt source
    /// is configured (a token naming another tenant is refused in the handshake).
    private List<IEnhancedAuthenticationMethod> Methods(WatchedFile<PasswordFile>? passwords, FailedLoginGuard guard)
    {
        var methods = new List<IEnhancedAuthenticationMethod>();
        if (passwords is not null)
            methods.Add(guard.Guard(new ScramSha256Method(new PasswordFileScramCredentials(passwords))));
        if (_sources.JwtMethod is { } jwt)
            methods.Add(guard.Guard(jwt));
        return methods;
    }

    private WatchedFile<T>? Load<T>(string? path, Func<string, T> parse, Dictionary<string, WatchedFile<T>> loaded) where T : class
    {
        if (path is null)
            return null;
        lock (loaded)
        {
            if (!loaded.TryGetValue(path, out var file))
                loaded[path] = file = WatchedFile.Load(path, parse, _logger);
            return file;
        }
    }

    public void Dispose()
    {
        _timer?.Dispose();
        _metrics?.Dispose();
    }
}
