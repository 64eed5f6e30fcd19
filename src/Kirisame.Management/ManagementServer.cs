using Kirisame.Broker.Security;
using Kirisame.Management.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kirisame.Management;

/// The management listener as a hosted service of the server's host: it starts its own web application
/// (REST API, /metrics, health, OpenAPI) and stops it with the host.
public sealed partial class ManagementServer : IHostedService, IAsyncDisposable
{
    private readonly ManagementOptions _options;
    private readonly ManagementContext _context;
    private readonly ManagementCredentials _credentials;
    private readonly ILogger _logger;
    private WebApplication? _app;

    private ManagementServer(ManagementOptions options, ManagementContext context, ManagementCredentials credentials)
    {
        _options = options;
        _context = context;
        _credentials = credentials;
        _logger = context.LoggerFactory.CreateLogger("Kirisame.Management");
    }

    /// The URL it answers on once started (the bound port when Port was 0).
    public string? Url { get; private set; }

    /// Reads the password and token files; null, with an error naming the key, when one cannot be used (at start
    /// a broken security file must stop the server, not be ignored). Roles must already be valid
    /// (<see cref="ManagementOptions.Validate"/>).
    public static ManagementServer? Create(ManagementOptions options, ManagementContext context, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(errors);
        var logger = context.LoggerFactory.CreateLogger("Kirisame.Management");
        var passwords = Load(options.PasswordFile, PasswordFile.Parse, "PasswordFile", logger, errors);
        var tokens = Load(options.TokenFile, ApiTokenFile.Parse, "TokenFile", logger, errors);
        if (errors.Count > 0)
            return null;
        var roles = options.Roles.ToDictionary(r => r.Key, r => ManagementRoles.TryParse(r.Value, out var role) ? role : ManagementRole.Viewer, StringComparer.Ordinal);
        return new ManagementServer(options, context, new ManagementCredentials(passwords, tokens, roles, TimeProvider.System));
    }

    private static WatchedFile<T>? Load<T>(string? path, Func<string, T> parse, string key, ILogger logger, List<string> errors) where T : class
    {
        if (path is null)
            return null;
        try
        {
            return WatchedFile.Load(Path.GetFullPath(path), parse, logger);
        }
        catch (Exception ex) when (ex is FormatException or IOException or UnauthorizedAccessException)
        {
            errors.Add($"{ManagementOptions.SectionName}:{key}: {path}: {ex.Message}");
            return null;
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var app = ManagementApplication.Build(_options, _context, _credentials);
        _app = app;
        await app.StartAsync(cancellationToken);
        Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? _options.Url;
        LogListening(_logger, Url, _credentials.AllowsAnonymous
            ? "no admin users or tokens configured: open to anyone on this machine"
            : $"{(_credentials.AcceptsPasswords ? "admin users" : "")}{(_credentials.AcceptsPasswords && _credentials.AcceptsTokens ? " and " : "")}{(_credentials.AcceptsTokens ? "API tokens" : "")}");
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
            await _app.StopAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
            await _app.DisposeAsync();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Management API on {Url} ({Access}); metrics at {Url}/metrics")]
    private static partial void LogListening(ILogger logger, string url, string access);
}
