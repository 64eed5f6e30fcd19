using Kirisame.Broker.Sessions;
using Kirisame.Cluster.Grains;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;

namespace Kirisame.Cluster;

/// Puts an Orleans silo in the server's host and this node on it (docs/adr/0020). Called only with a cluster name.
internal static class ClusterHosting
{
    /// Call before the MQTT listeners are added to <paramref name="host"/>: hosted services start in order, so the
    /// silo has joined the cluster (and this node linked to the others) before the first client is accepted.
    public static IHostBuilder AddKirisameCluster(this IHostBuilder host, ClusterSettings settings, ClusterStore store)
    {
        host.UseOrleans(silo =>
        {
            if (settings.UsesRedis)
            {
                var configuration = settings.Membership[ClusterSettings.RedisPrefix.Length..];
                silo.UseRedisClustering(options => options.ConfigurationOptions = StackExchange.Redis.ConfigurationOptions.Parse(configuration));
            }
            else if (settings.UsesPostgres)
            {
                // Orleans' ADO.NET provider finds Npgsql by its invariant name; the tables are PostgresMembershipSchema's.
                silo.UseAdoNetClustering(options =>
                {
                    options.Invariant = "Npgsql";
                    options.ConnectionString = settings.PostgresConnectionString;
                });
            }
            else
            {
                silo.UseDevelopmentClustering(settings.SeedEndPoints[0]);
            }

            silo.Configure<ClusterOptions>(options =>
            {
                options.ClusterId = settings.Name;
                options.ServiceId = "kirisame";
            });
            silo.ConfigureEndpoints(settings.Address, settings.SiloPort, settings.GatewayPort, listenOnAnyHostAddress: false);
            silo.Configure<ClusterMembershipOptions>(options =>
            {
                // Detection in about ProbeTimeout × MissedProbesLimit (3 s by default) instead of Orleans' ~15 s: a dead
                // node's routes and clients' wills wait for it (measured: docs/adr/0020).
                options.ProbeTimeout = settings.ProbeTimeout;
                options.NumMissedProbesLimit = settings.MissedProbesLimit;
                // Joins seen within seconds, not the default minute.
                options.TableRefreshTimeout = TimeSpan.FromSeconds(2);
                options.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(30);
            });
            silo.AddPlacementDirector<NodeInboxPlacement, NodeInboxPlacementDirector>();
        });
        host.ConfigureServices(services =>
        {
            services.AddSingleton(settings);
            services.AddSingleton(store);
            services.AddSingleton<ISessionRegistry>(provider => new ClusterSessionRegistry(provider.GetRequiredService<IGrainFactory>(),
                provider.GetRequiredService<ILocalSiloDetails>().SiloAddress.ToParsableString(),
                provider.GetRequiredService<ILoggerFactory>().CreateLogger("Kirisame.Cluster")));
            services.AddSingleton<ClusterTenants>();
            services.AddSingleton<Broker.ITenantCluster>(provider => provider.GetRequiredService<ClusterTenants>()); // for the broker's tenants
            services.AddSingleton<ClusterNode>();
            services.AddSingleton<ClusterStatus>();
            services.AddHostedService<ClusterService>();
        });
        return host;
    }

    /// Starts the node once the silo is up, stops it before the silo goes; publishes the cluster's $SYS topics meanwhile.
    private sealed class ClusterService(ClusterNode node, ClusterStatus status) : IHostedService, IDisposable
    {
        private readonly CancellationTokenSource _stopping = new();
        private Task _sys = Task.CompletedTask;

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            await node.StartAsync();
            if (node.Broker.Options.SysInterval > 0)
                _sys = Task.Run(() => RunSysAsync(TimeSpan.FromSeconds(node.Broker.Options.SysInterval)), CancellationToken.None);
        }

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            await _stopping.CancelAsync();
            await _sys;
            await node.StopAsync();
        }

        private async Task RunSysAsync(TimeSpan interval)
        {
            try
            {
                await status.RunSysAsync(interval, _stopping.Token);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
            }
            catch (Exception ex)
            {
                node.Logger.LogWarning("Cluster: $SYS/broker/cluster/… stopped: {Error}", ex.Message);
            }
        }

        public void Dispose() => _stopping.Dispose();
    }
}
