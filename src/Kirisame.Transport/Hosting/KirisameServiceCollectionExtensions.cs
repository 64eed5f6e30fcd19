using Kirisame.Broker;
using Kirisame.Transport.Listeners;
using Kirisame.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kirisame.Transport.Hosting;

/// Kirisame inside any .NET Generic Host (a worker, an ASP.NET Core app): the broker as a singleton, started
/// and stopped with the host, and its plain TCP listener on Kirisame's own transport. Application code reaches
/// the broker through <see cref="MqttBroker"/> from the container and talks to it with
/// <see cref="Kirisame.Broker.Clients.InProcessClient"/>.
public static class KirisameServiceCollectionExtensions
{
    public static IServiceCollection AddKirisame(this IServiceCollection services, Action<KirisameOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = new KirisameOptions();
        configure?.Invoke(options);
        var errors = options.Validate().ToList();
        if (errors.Count > 0)
            throw new ArgumentException("Kirisame options are not valid: " + string.Join(" ", errors), nameof(configure));

        services.AddSingleton(options);
        services.AddSingleton(provider => new MqttBroker(options.Broker, provider.GetService<ILoggerFactory>(), TimeProvider.System,
            options.Authenticator, options.Authorizer, store: options.Store, sessionRegistry: options.SessionRegistry));
        // Registered before the listener: the broker starts before it accepts, and says goodbye to its clients
        // (v5 DISCONNECT 0x8B) in the stopping hook, before the listener waits for their connections to close.
        services.AddHostedService<KirisameLifecycle>();
        if (options.Transport.Enabled)
        {
            var bound = new MqttListeners();
            services.AddSingleton(bound);
            services.AddSingleton(provider =>
            {
                var logger = provider.GetRequiredService<ILoggerFactory>().CreateLogger("Kirisame.Transport.Limits");
                var budget = ConnectionBudget.Compute(DescriptorLimit.Read(), options.Transport.MaxConnections, storeDescriptors: 0);
                budget.Log(logger);
                return new ConnectionLimits(options.Transport, budget.MaxConnections, TimeProvider.System, logger);
            });
            services.AddHostedService(provider => new SocketTransport([options.Transport.DefaultListener], options.Transport, bound, provider));
        }

        return services;
    }
}

/// Starts the broker before any listener accepts, and stops it (its clients told 0x8B) before listeners stop.
internal sealed class KirisameLifecycle(MqttBroker broker) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        broker.Start();
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => broker.StopAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
