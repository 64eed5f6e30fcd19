using Kirisame.Broker.Admin;
using Kirisame.Management.Api;
using Kirisame.Management.Health;
using Kirisame.Management.Security;
using Kirisame.Management.WebConsole;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.OpenApi;

namespace Kirisame.Management;

/// The management listener's web application: its own Kestrel and container, apart from the MQTT listeners'
/// (whose HTTP pipeline only upgrades WebSockets, under the MQTT connect timeout and connection limits).
internal static class ManagementApplication
{
    public const string OpenApiPath = "/api/v1/openapi.json";

    public static WebApplication Build(ManagementOptions options, ManagementContext context, ManagementCredentials credentials)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "Kirisame.Management" });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(options.EndPoint, listen =>
            {
                if (options.IsHttps)
                {
                    var tls = context.Tls ?? throw new InvalidOperationException("Management:Certificate is set but the host gave no TLS options.");
                    listen.UseHttps(new TlsHandshakeCallbackOptions { OnConnection = _ => ValueTask.FromResult(tls()) });
                }
            });
        });

        var services = builder.Services;
        services.AddLogging();
        services.AddSingleton(context.LoggerFactory); // the server's logging, not a second configuration of it
        services.AddRouting();
        services.AddProblemDetails();
        services.AddExceptionHandler<ApiExceptionHandler>();
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.Configure<JsonOptions>(o => o.SerializerOptions.WriteIndented = true);
        // The core only: AddAuthentication would bring data protection, which writes keys to the home folder
        // for cookies this API does not use.
        services.AddWebEncoders();
        services.AddAuthenticationCore(authentication =>
        {
            authentication.DefaultScheme = ManagementAuthenticationHandler.SchemeName;
            authentication.AddScheme<ManagementAuthenticationHandler>(ManagementAuthenticationHandler.SchemeName, null);
        });
        services.AddAuthorization(authorization =>
        {
            foreach (var role in Enum.GetValues<ManagementRole>())
                authorization.AddPolicy(ManagementRoles.Name(role), policy => policy.RequireRole(ManagementRoles.Name(role)));
        });
        services.AddOpenApi("v1", openApi => openApi.AddDocumentTransformer((document, _, _) =>
        {
            document.Info = new OpenApiInfo
            {
                Title = "Kirisame management API",
                Version = "v1",
                Description = "Clients, sessions, subscriptions and retained messages of a running Kirisame broker. Errors are RFC 9457 problem details. "
                    + "Authentication: HTTP Basic (admin users) or Bearer (API tokens); roles viewer < monitoring < administrator.",
            };
            return Task.CompletedTask;
        }));

        services.AddSingleton(context);
        services.AddSingleton(context.Broker);
        services.AddSingleton<IBrokerAdmin>(context.Broker.Admin); // the default tenant's; ?tenant= swaps it (Api/TenantScope.cs)
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<ManagementState>();
        services.AddSingleton(credentials);
        services.AddSingleton(new LoginGuard(new Broker.Security.FailedLoginGuard(credentials, context.LoginGuard, TimeProvider.System,
            context.LoggerFactory.CreateLogger("Kirisame.Management"))));
        services.AddSingleton<RateSampler>();
        services.AddHostedService(provider => provider.GetRequiredService<RateSampler>());

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseMiddleware<CrossSiteGuard>(credentials.AllowsAnonymous);
        app.UseRouting();
        app.UseAuthentication();
        app.UseAuthorization();

        HealthEndpoints.Map(app);
        var api = app.MapGroup("/api/v1").RequireAuthorization(ManagementRoles.Viewer);
        OverviewEndpoints.Map(api);
        ClientEndpoints.Map(api);
        SessionEndpoints.Map(api);
        RetainedEndpoints.Map(api);
        PublishEndpoint.Map(api);
        TopicEndpoints.Map(api);
        OperationsEndpoints.Map(api);
        ListenerEndpoints.Map(api);
        TenantEndpoints.Map(api);
        ClusterEndpoints.Map(api);
        ConsoleFiles.Map(app);
        app.MapOpenApi(OpenApiPath).RequireAuthorization(ManagementRoles.Viewer);
        if (context.Metrics is { } metrics)
            app.MapPrometheusScrapingEndpoint("/metrics", metrics, configureBranchedPipeline: null, optionsName: null).RequireAuthorization(ManagementRoles.Monitoring);
        return app;
    }
}
