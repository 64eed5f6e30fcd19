using Kirisame.Broker.Security;
using Microsoft.Extensions.Logging;

namespace Kirisame.Server.Authentication;

/// Builds what Authentication:Sources, Authentication:Jwt and Authentication:Http configure (docs/adr/0018): the
/// chain each listener authenticates with (its own file source in the configured place) and the HTTP authorization
/// hook each listener's ACL is combined with. With the defaults (the file source alone, no hooks) it changes nothing.
internal sealed class AuthenticationSources
{
    private readonly AuthenticationConfiguration _configuration;
    private readonly JwtSource? _jwt;
    private readonly HttpHook? _hook;
    private readonly HttpAuthenticationSource? _http;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    private AuthenticationSources(AuthenticationConfiguration configuration, JwtSource? jwt, HttpHook? hook, TimeProvider time, ILogger logger)
    {
        _configuration = configuration;
        _jwt = jwt;
        _hook = hook;
        _time = time;
        _logger = logger;
        if (hook is not null && configuration.Http?.Url is { } url)
            _http = new HttpAuthenticationSource(hook, new Uri(url), new HookCache<string>(time));
    }

    /// Loads the JWT keys and makes the hook's HTTP client; a file that cannot be used is an error naming its key.
    public static AuthenticationSources? Create(AuthenticationConfiguration configuration, ILogger logger, List<string> errors)
    {
        var time = TimeProvider.System;
        JwtSource? jwt = null;
        if (configuration.Jwt is { } jwtOptions && configuration.Sources.Contains("Jwt"))
        {
            try
            {
                // Start-up only: nothing else runs yet, so waiting here blocks no client.
                // The JWKS client lives as long as the broker.
                var client = OutboundHttpClient.Create(JwtOptions.SectionName, jwtOptions.CaFile, jwtOptions.ClientCertificate, jwtOptions.ClientKey);
                var keys = JwtKeys.LoadAsync(jwtOptions, client, time, logger).GetAwaiter().GetResult();
                jwt = new JwtSource(jwtOptions, keys);
                logger.LogInformation("JWT authentication: {Keys}{Issuer}{Audience}", keys.Describe,
                    jwtOptions.Issuer is null ? "" : $", issuer {jwtOptions.Issuer}", jwtOptions.Audience is null ? "" : $", audience {jwtOptions.Audience}");
            }
            catch (Exception ex) when (ex is FormatException or IOException or UnauthorizedAccessException)
            {
                var key = jwtOptions.SecretFile is not null ? "SecretFile" : jwtOptions.PublicKeyFile is not null ? "PublicKeyFile" : "JwksFile";
                // OutboundHttpClient's messages name their key already.
                errors.Add(ex.Message.StartsWith(JwtOptions.SectionName, StringComparison.Ordinal) ? ex.Message : $"{JwtOptions.SectionName}:{key}: {ex.Message}");
                return null;
            }
        }

        HttpHook? hook = null;
        if (configuration.Http is { } httpOptions && (configuration.Sources.Contains("Http") || httpOptions.AuthorizationUrl is not null))
        {
            try
            {
                var client = OutboundHttpClient.Create(HttpHookOptions.SectionName, httpOptions.CaFile, httpOptions.ClientCertificate, httpOptions.ClientKey);
                hook = new HttpHook(client, httpOptions, time, logger);
            }
            catch (FormatException ex)
            {
                errors.Add(ex.Message);
                return null;
            }
        }

        return new AuthenticationSources(configuration, jwt, hook, time, logger);
    }

    /// The MQTT 5 enhanced authentication method that carries a JWT (Authentication:Jwt:AuthenticationMethod), when the
    /// Jwt source is configured.
    public IEnhancedAuthenticationMethod? JwtMethod =>
        _jwt is null ? null : new TokenAuthenticationMethod(_configuration.Jwt!.AuthenticationMethod, _jwt);

    /// The listener's authenticator: its file authenticator alone (the default), or the chain with it in its place.
    public IAuthenticator Authenticator(FileAuthenticator file)
    {
        if (!_configuration.Chained)
            return file;
        var sources = _configuration.Sources.Select(name => name switch
        {
            "File" => (IAuthenticationSource)file,
            "Jwt" => _jwt!,
            _ => _http!,
        }).ToList();
        return new AuthenticationChain(sources);
    }

    /// The listener's (or a tenant's) authorizer: its ACL, and the HTTP authorization hook when configured (both must
    /// allow). The hook's requests name <paramref name="tenant"/>.
    public IAuthorizer Authorizer(IAuthorizer acl, string listener, string tenant = Broker.Tenants.TenantDirectory.DefaultTenant) =>
        _hook is not null && _configuration.Http?.AuthorizationUrl is { } url
            ? new AllOfAuthorizer(acl, new HttpAuthorizer(_hook, new Uri(url), listener, _time, _logger, tenant))
            : acl;

    public string Describe => _configuration.Chained || _configuration.Http?.AuthorizationUrl is not null
        ? $"authentication sources {string.Join(" → ", _configuration.Sources)}"
          + (_configuration.Http?.AuthorizationUrl is { } authorization ? $"; HTTP authorization hook {authorization}" : "")
        : "";
}
