using System.Diagnostics;
using System.Reflection;
using Kirisame.Broker;
using Kirisame.Broker.Security;
using Kirisame.Broker.Storage;
using Kirisame.Cluster;
using Kirisame.Management;
using Kirisame.Management.Telemetry;
using Kirisame.Server.Logging;
using Kirisame.Storage.RocksDb;
using Kirisame.Transport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Kirisame.Server;

internal static class KirisameCommand
{
    public const int ExitOk = 0;
    public const int ExitFailure = 1;
    public const int ExitUsage = 2;

    public static string Version { get; } =
        typeof(KirisameCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(KirisameCommand).Assembly.GetName().Version?.ToString()
        ?? "unknown";

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var commandLine = CommandLine.Parse(args);
        if (commandLine.Errors.Count > 0)
            return Fail(stderr, commandLine.Errors, ExitUsage, hint: true);
        switch (commandLine.Command)
        {
            case CommandKind.Help:
                await stdout.WriteLineAsync(CommandLine.Usage);
                return ExitOk;
            case CommandKind.Version:
                await stdout.WriteLineAsync($"kirisame {Version}");
                return ExitOk;
            case CommandKind.Man:
                await stdout.WriteAsync(ManPage.Render(CommandLine.Usage, [("passwd", PasswdArguments.Usage), ("token", TokenCommand.Usage),
                    ("ctl", Ctl.CtlCommand.Usage), ("bench", Bench.BenchArguments.Usage)]));
                return ExitOk;
            case CommandKind.Passwd:
                return await PasswdCommand.RunAsync(commandLine.Passwd!, stdout, stderr);
            case CommandKind.PasswdHelp:
                await stdout.WriteLineAsync(PasswdArguments.Usage);
                return ExitOk;
            case CommandKind.Bench:
                return await BenchCommand.RunAsync(commandLine.BenchArguments, stdout, stderr);
            case CommandKind.Ctl:
                return await Ctl.CtlCommand.RunAsync(commandLine.SubcommandArguments, stdout, stderr);
            case CommandKind.Token:
                return await TokenCommand.RunAsync(commandLine.SubcommandArguments, stdout, stderr);
            case CommandKind.Pub:
                return await PubSub.PubCommand.RunAsync(commandLine.SubcommandArguments, Console.In, stdout, stderr);
            case CommandKind.Sub:
                await using (var output = Console.OpenStandardOutput())
                    return await PubSub.SubCommand.RunAsync(commandLine.SubcommandArguments, output, stdout, stderr);
            case CommandKind.Config:
                return await MosquittoConf.ConfigCommand.RunAsync(commandLine.SubcommandArguments, stdout, stderr);
        }

        var errors = new List<string>();
        var (mosquittoConf, confFailed) = await MosquittoConf.ConfigCommand.ReadForServerAsync(commandLine.MosquittoConfFile, stderr);
        if (confFailed)
            return ExitUsage;
        var configuration = ServerConfiguration.Load(commandLine, environment: null, errors, mosquittoConf);
        if (configuration is null)
            return Fail(stderr, errors, ExitUsage, hint: false);

        var listenerSecurity = SecuritySetup.Resolve(configuration, errors);
        if (listenerSecurity is null)
            return Fail(stderr, errors, ExitUsage, hint: false);

        // The log file opens before anything else logs: a path that cannot be written is a bad setting (exit 2).
        FileLoggerProvider? logFile = null;
        if (configuration.Root[FileLoggerProvider.PathKey] is { Length: > 0 } logPath)
        {
            try
            {
                logFile = new FileLoggerProvider(logPath);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                return Fail(stderr, [$"{FileLoggerProvider.PathKey}: cannot open '{logPath}' for appending: {ex.Message}"], ExitUsage, hint: false);
            }
        }

        using var logFileLifetime = logFile; // the host does not dispose a provider it was handed
        SyslogLoggerProvider? syslog = null;
        if (configuration.Root[SyslogLoggerProvider.AddressKey] is { Length: > 0 } syslogAddress)
        {
            syslog = SyslogLoggerProvider.Open(syslogAddress, configuration.Root[SyslogLoggerProvider.FacilityKey], out var syslogError);
            if (syslog is null)
                return Fail(stderr, [syslogError!], ExitUsage, hint: false);
        }

        using var syslogLifetime = syslog;

        // The store opens before anything is served: a data folder that cannot be used stops start-up here.
        IBrokerStore store;
        StoredState state;
        var opening = Stopwatch.StartNew();
        try
        {
            (store, state) = await OpenStoreAsync(configuration.Storage, waitForLock: configuration.Cluster.SharedStore.Length > 0);
        }
        catch (StoreOpenException ex)
        {
            await stderr.WriteLineAsync($"kirisame: {ex.Message}");
            return ExitFailure;
        }

        await using var _ = store;
        // A PostgreSQL membership store must be reachable at start, and gets Orleans' tables if it has none.
        if (configuration.Cluster.Enabled && configuration.Cluster.UsesPostgres
            && await Kirisame.Cluster.PostgresMembershipSchema.EnsureAsync(configuration.Cluster.PostgresConnectionString) is { } membershipProblem)
        {
            await stderr.WriteLineAsync($"kirisame: Cluster:Membership: {membershipProblem}");
            return ExitFailure;
        }

        // A cluster node's broker sees its store through the cluster (acknowledgements wait for the other nodes too,
        // retained messages are replicated); a single node's calls it directly.
        IBrokerStore brokerStore = configuration.Cluster.Enabled
            ? new Kirisame.Cluster.ClusterStore(store, configuration.Cluster.SharedStore.Length == 0 ? null
                : new Kirisame.Cluster.SharedStore(configuration.Cluster.SharedStore, folder => OpenShared(configuration.Storage, folder)))
            : store;
        // Disposed after the host (and with it the broker) has stopped: a last export sees the final figures.
        using var metrics = KirisameTelemetry.Create(configuration.Telemetry, prometheus: configuration.Management.Enabled);
        using var traces = KirisameTelemetry.CreateTracing(configuration.Telemetry);
        var security = new SecurityHolder();
        var summary = new StartupSummary
        {
            Store = configuration.Storage.InMemory
                ? "in memory (nothing survives a restart)"
                : $"RocksDB {Path.GetFullPath(configuration.Storage.DataDirectory)} ({configuration.Storage.Durability})",
        };
        summary.AddChangedSettings(configuration.Broker);
        if (configuration.Cluster.Enabled)
            summary.Cluster = $"cluster {configuration.Cluster.Name}, silo {configuration.Cluster.AdvertisedAddress}:{configuration.Cluster.SiloPort}, membership "
                + configuration.Cluster.MembershipDescription;
        var host = BuildHost(configuration, brokerStore, state, opening.Elapsed, security, [logFile, syslog], summary);
        var built = SecuritySetup.Build(configuration, listenerSecurity, host.Services.GetRequiredService<ILoggerFactory>(), errors, summary);
        if (built is null)
        {
            host.Dispose();
            return Fail(stderr, errors, ExitUsage, hint: false);
        }

        (security.Authenticator, security.Authorizer, security.AuthenticationMethods, security.Admin, var sources) = built.Value;
        if (configuration.Tenants.On)
        {
            security.Tenants = Tenants.TenantHost.Create(configuration.Tenants, configuration.Storage, sources, configuration.Security,
                host.Services.GetRequiredService<ILoggerFactory>(), errors);
            if (security.Tenants is null)
            {
                host.Dispose();
                return Fail(stderr, errors, ExitUsage, hint: false);
            }
        }

        using var tenantsLifetime = security.Tenants;
        security.Management = ManagementSetup.Create(configuration, host.Services, metrics, security.Admin, security.Tenants, listenerSecurity, errors);
        if (errors.Count > 0)
        {
            host.Dispose();
            return Fail(stderr, errors, ExitUsage, hint: false);
        }

        try
        {
            // Returns after Ctrl-C or SIGTERM once BrokerLifecycle has stopped the broker and Kestrel has
            // stopped; RunAsync disposes the host. The store is disposed after it (writes flushed).
            await host.RunAsync();
            return ExitOk;
        }
        catch (IOException ex)
        {
            // Typically the port is taken: Kestrel reports it as an IOException from bind.
            var endPoints = string.Join(", ", configuration.AllListeners.Select(l => l.EndPoint.ToString())
                .Concat(configuration.Management.Enabled ? [$"{configuration.Management.EndPoint} (management)"] : []));
            await stderr.WriteLineAsync($"kirisame: cannot listen on {endPoints}: {ex.Message}");
            return ExitFailure;
        }
        catch (Exception ex)
        {
            await stderr.WriteLineAsync($"kirisame: {ex.GetType().Name}: {ex.Message}");
            return ExitFailure;
        }
    }

    /// <paramref name="waitForLock"/>: the folder is in a cluster's shared store, where a live node may be taking up the
    /// sessions this node left when it died (docs/adr/0020): its hold on the folder is waited for, up to a minute.
    private static async Task<(IBrokerStore Store, StoredState State)> OpenStoreAsync(StorageOptions options, bool waitForLock)
    {
        if (options.InMemory)
            return (InMemoryStore.Instance, StoredState.Empty);
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        RocksDbStore store;
        while (true)
        {
            try
            {
                store = RocksDbStore.Open(new RocksDbStoreOptions { DataDirectory = options.DataDirectory, Durability = options.Durability });
                break;
            }
            catch (StoreOpenException ex) when (waitForLock && ex.InUse && DateTime.UtcNow < deadline)
            {
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
        }

        try
        {
            return (store, store.Load());
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }
    }

    /// Another node's folder in the cluster's shared store, opened to take up its sessions once it died; null while a
    /// process still holds it.
    private static RocksDbStore? OpenShared(StorageOptions options, string folder)
    {
        try
        {
            return RocksDbStore.Open(new RocksDbStoreOptions { DataDirectory = folder, Durability = options.Durability });
        }
        catch (StoreOpenException ex) when (ex.InUse)
        {
            return null;
        }
    }

    /// The authenticator and authorizer are built after the host (they log through it) and before the broker
    /// is first resolved, at start.
    private sealed class SecurityHolder
    {
        public IAuthenticator? Authenticator { get; set; }

        public IAuthorizer? Authorizer { get; set; }

        public IReadOnlyList<IEnhancedAuthenticationMethod> AuthenticationMethods { get; set; } = [];

        public ManagementServer? Management { get; set; }

        public SecurityAdministration? Admin { get; set; }

        /// Tenants (Tenants:File or Tenants:Enabled); null when off.
        public Tenants.TenantHost? Tenants { get; set; }
    }

    private static IHost BuildHost(ServerConfiguration configuration, IBrokerStore store, StoredState state, TimeSpan loadTime,
        SecurityHolder security, QueuedLoggerProvider?[] logTargets, StartupSummary summary)
    {
        var host = new HostBuilder()
            .ConfigureAppConfiguration(builder => builder.AddConfiguration(configuration.Root))
            .ConfigureLogging(logging =>
            {
                logging.AddConfiguration(configuration.Root.GetSection("Logging"));
                logging.AddConsole();
                logging.AddConsoleFormatter<KirisameConsoleFormatter, ConsoleFormatterOptions>();
                foreach (var target in logTargets.OfType<QueuedLoggerProvider>())
                    logging.AddProvider(target); // disposed (what is queued flushed) by RunAsync, after the host
            })
            .ConfigureServices(services =>
            {
                services.AddSingleton(configuration.Broker);
                services.AddSingleton(summary);
                services.AddSingleton(provider =>
                {
                    var loggers = provider.GetRequiredService<ILoggerFactory>();
                    if ((store is Kirisame.Cluster.ClusterStore clustered ? clustered.Inner : store) is RocksDbStore rocks)
                    {
                        rocks.Logger = loggers.CreateLogger("Kirisame.Storage");
                        // Opening and reading happen before logging exists; the time is reported here (restart time).
                        rocks.Logger.LogInformation("Storage: {Directory} ({Durability}), opened and read in {Milliseconds} ms",
                            Path.GetFullPath(rocks.DataDirectory), rocks.Durability, (long)loadTime.TotalMilliseconds);
                    }

                    var broker = new MqttBroker(configuration.Broker, loggers, TimeProvider.System,
                        security.Authenticator ?? throw new InvalidOperationException("Security is not set up."),
                        security.Authorizer, security.AuthenticationMethods, store: store,
                        sessionRegistry: provider.GetService<Kirisame.Broker.Sessions.ISessionRegistry>()); // a cluster's, or the local one

                    broker.Restore(state);
                    security.Tenants?.Attach(broker, configuration.AllListeners.Where(l => l.Tenant is not null).ToDictionary(l => l.Name, l => l.Tenant!),
                        configuration.Storage.InMemory ? null : new Tenants.TenantStores(configuration.Storage, loggers),
                        provider.GetService<Kirisame.Broker.ITenantCluster>()); // each tenant a node of the cluster, when there is one
                    return broker;
                });
                services.AddSingleton(new Bridges.BridgeHost(configuration.Bridges));
                services.AddHostedService<BrokerLifecycle>();
                if (configuration.MqttSn.Enabled)
                    services.AddHostedService(provider => new MqttSnService(provider.GetRequiredService<MqttBroker>(), configuration.MqttSn,
                        provider.GetRequiredService<ILoggerFactory>()));
                services.AddHostedService<HangupReload>();
                services.AddHostedService<Memory.HeapTrim>();
            });
        // Before the listeners: the node has joined its cluster before it accepts a client.
        if (configuration.Cluster.Enabled)
            host.AddKirisameCluster(configuration.Cluster, (Kirisame.Cluster.ClusterStore)store);
        return host
            .ConfigureWebHost(
                web => web.UseKirisameTransport(configuration.Transport, configuration.Listeners,
                    storeDescriptors: store is RocksDbStore or Kirisame.Cluster.ClusterStore { Inner: RocksDbStore } ? RocksDbStore.MaxDescriptors : 0),
                // ASPNETCORE_URLS and friends must not add listeners behind the operator's back.
                options => options.SuppressEnvironmentConfiguration = true)
            // After the web host: the management listener starts once the MQTT listeners are bound.
            .ConfigureServices(services =>
            {
                if (configuration.Management.Enabled)
                    services.AddHostedService(_ => security.Management ?? throw new InvalidOperationException("Management is not set up."));
            })
            .UseConsoleLifetime(options => options.SuppressStatusMessages = true)
            .ConfigureServices(SystemdNotification.AddWhenAsked)
            .Build();
    }

    private static int Fail(TextWriter stderr, List<string> errors, int exitCode, bool hint)
    {
        foreach (var error in errors)
            stderr.WriteLine($"kirisame: {error}");
        if (hint)
            stderr.WriteLine("Run 'kirisame --help' for usage.");
        return exitCode;
    }
}
