using Kirisame.Broker.Security;
using Kirisame.Transport.Listeners;
using Microsoft.Extensions.Logging;

namespace Kirisame.Server;

/// One listener's security once its overrides (Listeners:NAME:…) have been merged over the Security
/// section. <see cref="Key"/> is where each setting came from, for messages.
internal sealed record ListenerSecurity(ListenerOptions Listener, bool AllowAnonymous, string? PasswordFile, string? AclFile, string? DefaultUser)
{
    public string Name => Listener.Name;

    /// Every client presents a verified certificate whose name is its user name (the CONNECT's is ignored): user
    /// names are verified without a password file.
    public bool CertificateNames => Listener.ClientCertificates == ClientCertificates.Required && Listener.CertificateIdentity != CertificateIdentity.None;

    public string Key(string setting, bool overridden) =>
        overridden ? $"{ListenerOptions.SectionName}:{Listener.Name}:{setting}" : $"{SecurityOptions.SectionName}:{setting}";
}

/// Turns the Security section, each listener's overrides and the listeners' addresses into the broker's
/// authenticator and authorizer, and applies the secure default per listener: anonymous clients only on
/// a listener that is not reachable from the network.
internal static class SecuritySetup
{
    /// The listener name whose ACL applies to what the management API publishes (Kirisame.Management uses it).
    public const string ManagementAclListener = Management.Api.ManagementAcl.ListenerName;

    /// Decides each listener's settings; null (with an error per exposed listener) when the server must not
    /// start because a listener reachable from the network would admit anyone.
    public static IReadOnlyList<ListenerSecurity>? Resolve(ServerConfiguration configuration, List<string> errors)
    {
        var security = configuration.Security;
        var resolved = new List<ListenerSecurity>();
        var exposed = new List<ListenerOptions>();
        // JWT and HTTP sources check clients as a password file does (docs/adr/0018).
        var otherSources = configuration.Authentication.Sources.Any(s => s != "File");
        foreach (var listener in configuration.AllListeners)
        {
            var passwordFile = listener.PasswordFile ?? security.PasswordFile;
            // A password file means clients are expected to log in. (SCRAM users do not: they authenticate
            // through MQTT 5 enhanced authentication, beside whatever plain clients the anonymous switch admits.)
            // A listener that only admits verified client certificates needs no password either.
            var certificatesOnly = listener.ClientCertificates == ClientCertificates.Required && listener.CertificateIdentity != CertificateIdentity.None;
            var allowAnonymous = listener.AllowAnonymous ?? security.AllowAnonymous
                ?? (passwordFile is null && !certificatesOnly && !otherSources && listener.IsLoopback);
            if (listener.AllowAnonymous is null && security.AllowAnonymous is null && passwordFile is null && !certificatesOnly && !otherSources && !listener.IsLoopback)
                exposed.Add(listener);
            resolved.Add(new ListenerSecurity(listener, allowAnonymous, passwordFile, listener.AclFile ?? security.AclFile,
                listener.DefaultUser ?? security.DefaultUser));
        }

        foreach (var listener in exposed)
        {
            // The default listener (from Transport) has no section of its own for overrides.
            var key = configuration.Listeners.Contains(listener) ? $"{ListenerOptions.SectionName}:{listener.Name}" : "Security";
            errors.Add($"""
                Listener {listener.Name} ({listener.Protocol.ToString().ToLowerInvariant()}://{listener.EndPoint}) is reachable from the network but no authentication is configured, so any client could connect.
                  To require passwords: create a password file with 'kirisame passwd FILE USER' and set Security:PasswordFile (--password-file FILE){(key == "Security" ? "" : $" or {key}:PasswordFile for this listener only")}.
                  To require client certificates: set ClientCertificates Required, ClientCaFile and CertificateIdentity CommonName on the TLS listener.
                  To allow anonymous clients anyway: set Security:AllowAnonymous true (--allow-anonymous){(key == "Security" ? "" : $" or {key}:AllowAnonymous true")}.
                  Or bind it to 127.0.0.1{(key == "Security" ? " (--bind 127.0.0.1)" : $" ({key}:BindAddress)")}.
                """);
        }

        return exposed.Count > 0 ? null : resolved;
    }

    /// Loads the password and ACL files (each file once, however many listeners use it); a file that does not
    /// parse stops the server with the key and line. SCRAM-SHA-256 is offered when there is a password file
    /// (its $scram-sha256$ users, which may be added while the broker runs) or users in the deprecated
    /// Authentication:Scram:Users section.
    public static (IAuthenticator Authenticator, IAuthorizer Authorizer, IReadOnlyList<IEnhancedAuthenticationMethod> Methods, SecurityAdministration Admin,
        Authentication.AuthenticationSources Sources)? Build(ServerConfiguration configuration, IReadOnlyList<ListenerSecurity> listeners,
        ILoggerFactory loggers, List<string> errors, StartupSummary? summary = null)
    {
        var security = configuration.Security;
        var logger = loggers.CreateLogger("Kirisame.Security");
        var passwordFiles = new Dictionary<string, WatchedFile<PasswordFile>>(StringComparer.Ordinal);
        var aclFiles = new Dictionary<string, WatchedFile<AclFile>>(StringComparer.Ordinal);
        var authenticators = new Dictionary<string, IAuthenticator>(StringComparer.OrdinalIgnoreCase);
        var authorizers = new Dictionary<string, IAuthorizer>(StringComparer.OrdinalIgnoreCase);
        // What each listener runs with is logged once every file has loaded: a line saying "no ACL file" just before
        // the error about the ACL file would contradict it (issue 17, item 5).
        var summaries = new List<Action>();
        var sources = Authentication.AuthenticationSources.Create(configuration.Authentication, logger, errors);
        if (sources is null)
            return null;
        foreach (var listener in listeners)
        {
            var passwords = Load(listener.PasswordFile, PasswordFile.Parse, passwordFiles,
                listener.Key("PasswordFile", listener.Listener.PasswordFile is not null), logger, errors);
            var acl = Load(listener.AclFile, AclFile.Parse, aclFiles, listener.Key("AclFile", listener.Listener.AclFile is not null), logger, errors);
            authenticators[listener.Name] = sources.Authenticator(new FileAuthenticator(passwords, listener.AllowAnonymous, listener.DefaultUser));
            authorizers[listener.Name] = sources.Authorizer(acl is null ? AllowAll.Instance : new AclAuthorizer(acl), listener.Name);

            var admission = $"{(passwords is null ? "no password file" : $"password file {passwords.Path} ({passwords.Current.Count} users)")}"
                + (listener.CertificateNames ? $", user names from client certificates ({listener.Listener.CertificateIdentity})" : "")
                + $", anonymous {(listener.AllowAnonymous ? "allowed" : "refused")}"
                + (listener.DefaultUser is null ? "" : $" as user '{listener.DefaultUser}'")
                + $"; {(acl is null ? "no ACL (everything allowed)" : $"ACL file {acl.Path}")}"
                + (sources.Describe.Length == 0 ? "" : $"; {sources.Describe}");
            summaries.Add(() =>
            {
                if (summary is not null)
                    summary.Security[listener.Name] = admission;
                if (listener.AllowAnonymous && !listener.Listener.IsLoopback)
                    logger.LogWarning("Anonymous clients are allowed on listener {Listener}, which is reachable from the network", listener.Name);
                // With names taken from verified client certificates, the ACL's 'user' sections cannot be claimed.
                if (passwords is null && acl is not null && !listener.CertificateNames)
                    logger.LogWarning("Listener {Listener} has an ACL file but no password file: user names are not verified, so 'user' sections can be claimed by anyone", listener.Name);
                logger.LogInformation("Listener {Listener}: {Passwords}{Certificates}, anonymous {Anonymous}{DefaultUser}; authorization: {Acl}",
                    listener.Name,
                    passwords is null ? "no password file" : $"password file {passwords.Path} ({passwords.Current.Count} users)",
                    listener.CertificateNames ? $", user names from client certificates ({listener.Listener.CertificateIdentity})" : "",
                    listener.AllowAnonymous ? "allowed" : "refused",
                    listener.DefaultUser is null ? "" : $" as user '{listener.DefaultUser}'",
                    acl is null ? "everything allowed (no ACL file)" : $"ACL file {acl.Path}");
            });
        }

        // Messages published through the management API (in-process clients naming this listener) are held to the
        // Security section's ACL: the rules that are not any one listener's.
        var globalAcl = Load(security.AclFile, AclFile.Parse, aclFiles, $"{SecurityOptions.SectionName}:AclFile", logger, errors);
        authorizers[ManagementAclListener] = globalAcl is null ? AllowAll.Instance : new AclAuthorizer(globalAcl);

        if (errors.Count > 0)
            return null;
        foreach (var report in summaries)
            report();

        // One guard for all listeners and methods: an address guessing passwords is banned everywhere.
        var guard = new FailedLoginGuard(new ListenerAuthenticator(authenticators), security, TimeProvider.System, logger);
        var methods = AuthenticationMethods(passwordFiles.Values, configuration.Authentication, logger);
        if (sources.JwtMethod is { } jwt)
            methods.Add(jwt);
        methods = methods.ConvertAll(guard.Guard);
        var admin = new SecurityAdministration(security.PasswordFile is null ? null : Path.GetFullPath(security.PasswordFile), aclFiles.Values, guard);
        return (guard, new ListenerAuthorizer(authorizers), methods, admin, sources);
    }

    private static WatchedFile<T>? Load<T>(string? path, Func<string, T> parse, Dictionary<string, WatchedFile<T>> loaded, string key,
        ILogger logger, List<string> errors) where T : class
    {
        if (path is null)
            return null;
        var full = Path.GetFullPath(path);
        if (loaded.TryGetValue(full, out var known))
            return known;
        try
        {
            return loaded[full] = WatchedFile.Load(full, parse, logger);
        }
        catch (Exception ex) when (ex is FormatException or IOException or UnauthorizedAccessException)
        {
            errors.Add($"{key}: {path}: {ex.Message}");
            return null;
        }
    }

    private static List<IEnhancedAuthenticationMethod> AuthenticationMethods(IEnumerable<WatchedFile<PasswordFile>> passwordFiles,
        AuthenticationConfiguration authentication, ILogger logger)
    {
        var stores = new List<IScramCredentialStore>();
        foreach (var passwords in passwordFiles)
            stores.Add(new PasswordFileScramCredentials(passwords));
        if (authentication.ScramUsers.Count > 0)
        {
            logger.LogWarning("{Section}:Scram:Users is deprecated: keeping passwords in the configuration is unsafe; "
                + "use 'kirisame passwd --scram FILE USER' and Security:PasswordFile instead", AuthenticationConfiguration.SectionName);
            var configured = new InMemoryScramCredentials();
            foreach (var (name, password) in authentication.ScramUsers)
                configured.Add(name, password);
            stores.Add(configured);
        }

        return stores.Count == 0 ? [] : [new ScramSha256Method(stores.Count == 1 ? stores[0] : new ScramCredentialStores([.. stores]))];
    }
}
