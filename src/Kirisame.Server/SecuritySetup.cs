using Kirisame.Broker.Security;
using Kirisame.Transport.Listeners;
using Microsoft.Extensions.Logging;

namespace Kirisame.Server;

/// Turns the Security section and the listeners into the broker's authenticator and authorizer, and
/// applies the secure default: anonymous clients only while nothing is reachable from the network.
internal static class SecuritySetup
{
    /// Decides whether clients without credentials are admitted; null (with an error) when the server must
    /// not start.
    public static bool? ResolveAllowAnonymous(ServerConfiguration configuration, List<string> errors)
    {
        var security = configuration.Security;
        if (security.AllowAnonymous is { } explicitly)
            return explicitly;
        // A password file means clients are expected to log in. (SCRAM users do not: they authenticate through
        // MQTT 5 enhanced authentication, beside whatever plain clients the anonymous switch admits.)
        if (security.PasswordFile is not null)
            return false;
        var exposed = configuration.AllListeners
            .Where(l => !l.IsLoopback && !(l.ClientCertificates == ClientCertificates.Required && l.CertificateIdentity != CertificateIdentity.None))
            .ToList();
        if (exposed.Count == 0)
            return configuration.AllListeners.All(l => l.IsLoopback);
        var where = string.Join(", ", exposed.Select(l => $"{l.Name} ({l.Protocol.ToString().ToLowerInvariant()}://{l.EndPoint})"));
        errors.Add($"""
            Listener {where} is reachable from the network but no authentication is configured, so any client could connect.
              To require passwords: create a password file with 'kirisame passwd FILE USER' and set Security:PasswordFile (--password-file FILE).
              To require client certificates: set ClientCertificates Required, ClientCaFile and CertificateIdentity CommonName on the TLS listener.
              To allow anonymous clients anyway: set Security:AllowAnonymous true (--allow-anonymous).
              Or bind to 127.0.0.1 (--bind 127.0.0.1).
            """);
        return null;
    }

    /// Loads the password and ACL files; a file that does not parse stops the server with the key and line.
    /// SCRAM-SHA-256 is offered when there is a password file (its $scram-sha256$ users, which may be added
    /// while the broker runs) or users in the deprecated Authentication:Scram:Users section.
    public static (IAuthenticator Authenticator, IAuthorizer Authorizer, IReadOnlyList<IEnhancedAuthenticationMethod> Methods)? Build(
        ServerConfiguration configuration, bool allowAnonymous, ILoggerFactory loggers, List<string> errors)
    {
        var security = configuration.Security;
        var logger = loggers.CreateLogger("Kirisame.Security");
        WatchedFile<PasswordFile>? passwords = null;
        WatchedFile<AclFile>? acl = null;
        try
        {
            if (security.PasswordFile is { } passwordPath)
                passwords = WatchedFile.Load(Path.GetFullPath(passwordPath), PasswordFile.Parse, logger);
        }
        catch (Exception ex) when (ex is FormatException or IOException or UnauthorizedAccessException)
        {
            errors.Add($"{SecurityOptions.SectionName}:PasswordFile: {security.PasswordFile}: {ex.Message}");
        }

        try
        {
            if (security.AclFile is { } aclPath)
                acl = WatchedFile.Load(Path.GetFullPath(aclPath), AclFile.Parse, logger);
        }
        catch (Exception ex) when (ex is FormatException or IOException or UnauthorizedAccessException)
        {
            errors.Add($"{SecurityOptions.SectionName}:AclFile: {security.AclFile}: {ex.Message}");
        }

        if (errors.Count > 0)
            return null;

        IAuthenticator authenticator = new FileAuthenticator(passwords, allowAnonymous, security.DefaultUser);
        authenticator = new FailedLoginGuard(authenticator, security, TimeProvider.System, logger);
        IAuthorizer authorizer = acl is null ? AllowAll.Instance : new AclAuthorizer(acl);
        var methods = AuthenticationMethods(passwords, configuration.Authentication, logger);

        if (allowAnonymous && configuration.AllListeners.Any(l => !l.IsLoopback))
            logger.LogWarning("Anonymous clients are allowed on listeners reachable from the network (Security:AllowAnonymous)");
        if (passwords is null && acl is not null)
            logger.LogWarning("An ACL file without a password file: user names are not verified, so 'user' sections can be claimed by anyone");
        logger.LogInformation("Authentication: {Passwords}, anonymous {Anonymous}{DefaultUser}; authorization: {Acl}",
            passwords is null ? "no password file" : $"password file {passwords.Path} ({passwords.Current.Count} users)",
            allowAnonymous ? "allowed" : "refused",
            security.DefaultUser is null ? "" : $" as user '{security.DefaultUser}'",
            acl is null ? "everything allowed (no ACL file)" : $"ACL file {acl.Path}");
        return (authenticator, authorizer, methods);
    }

    private static List<IEnhancedAuthenticationMethod> AuthenticationMethods(WatchedFile<PasswordFile>? passwords,
        AuthenticationConfiguration authentication, ILogger logger)
    {
        var stores = new List<IScramCredentialStore>();
        if (passwords is not null)
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
