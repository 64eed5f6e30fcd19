using System.Globalization;
using System.Reflection;
using Kirisame.Broker;
using Kirisame.Broker.Security;
using Kirisame.Management;
using Kirisame.Management.Telemetry;
using Kirisame.MqttSn;
using Kirisame.Transport;
using Kirisame.Transport.Listeners;
using Microsoft.Extensions.Configuration;
using TenantDirectory = Kirisame.Broker.Tenants.TenantDirectory;
using TenantOptions = Kirisame.Server.Tenants.TenantOptions;

namespace Kirisame.Server;

/// Reads configuration (defaults → JSON file → KIRISAME__ environment → command line) and binds it to the
/// options classes. Every problem is reported with the key that caused it; nothing unknown is ignored,
/// because a misspelt key silently falling back to a default is worse than refusing to start.
internal sealed class ServerConfiguration
{
    public const string EnvironmentPrefix = "KIRISAME__";

    private static readonly string[] s_knownSections =
        ["Broker", TransportOptions.SectionName, ListenerOptions.SectionName, SecurityOptions.SectionName, StorageOptions.SectionName,
            AuthenticationConfiguration.SectionName, ManagementOptions.SectionName, TelemetryOptions.SectionName, MqttSnOptions.SectionName, "Logging",
            Kirisame.Bridges.BridgeConfiguration.SectionName, Kirisame.Cluster.ClusterSettings.SectionName, TenantOptions.SectionName];

    private static readonly Dictionary<string, string?> s_defaults = new()
    {
        ["Logging:LogLevel:Default"] = "Information",
        // Kestrel's own connection logs duplicate ours; hosting chatter is not useful to a broker operator.
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Warning",
        // Orleans (the cluster's engine) tells of every silo start step and grain activation at Information.
        ["Logging:LogLevel:Orleans"] = "Warning",
        // A hint about server GC at every start, and grain turns over 1 s on a busy 2-core machine: not the operator's.
        ["Logging:LogLevel:Orleans.Runtime.Silo"] = "Error",
        ["Logging:LogLevel:Orleans.Runtime.Scheduler"] = "Error",
        // Orleans' retries log every attempt at Information.
        ["Logging:LogLevel:Polly"] = "Warning",
        // "Hosting failed to start" and a stack trace, before the one-line message the command prints for the
        // same exception (port in use, a key that does not match its certificate): the operator needs the line.
        ["Logging:LogLevel:Microsoft.Extensions.Hosting.Internal.Host"] = "Critical",
        // Dated ISO 8601 lines without .NET's event ids (Logging/KirisameConsoleFormatter); `simple` is kept
        // to one line with the same timestamps for those who choose it.
        ["Logging:Console:FormatterName"] = "kirisame",
        ["Logging:Console:FormatterOptions:SingleLine"] = "true",
        ["Logging:Console:FormatterOptions:TimestampFormat"] = "yyyy-MM-dd'T'HH:mm:ss.fffzzz ",
    };

    private ServerConfiguration(IConfigurationRoot root, BrokerOptions broker, TransportOptions transport,
        List<ListenerOptions> listeners, SecurityOptions security, StorageOptions storage, AuthenticationConfiguration authentication,
        ManagementOptions management, TelemetryOptions telemetry, MqttSnOptions mqttSn)
    {
        MqttSn = mqttSn;
        Management = management;
        Telemetry = telemetry;
        Root = root;
        Broker = broker;
        Transport = transport;
        Listeners = listeners;
        Security = security;
        Storage = storage;
        Authentication = authentication;
    }

    public IConfigurationRoot Root { get; }

    /// Settings changed while the process runs (log levels, through the management API).
    public Logging.RuntimeSettingsProvider Runtime { get; private init; } = new();

    public BrokerOptions Broker { get; }

    public TransportOptions Transport { get; }

    /// The listeners under "Listeners" (the default TCP one is described by <see cref="Transport"/>).
    public List<ListenerOptions> Listeners { get; }

    public SecurityOptions Security { get; }

    /// Every listener that will be bound, the default one included.
    public IEnumerable<ListenerOptions> AllListeners => Transport.Enabled ? [Transport.DefaultListener, .. Listeners] : Listeners;

    public StorageOptions Storage { get; }

    public AuthenticationConfiguration Authentication { get; }

    public ManagementOptions Management { get; }

    public TelemetryOptions Telemetry { get; }

    /// The bridges to other brokers (section Bridges), checked.
    public IReadOnlyList<Bridges.BridgeOptions> Bridges { get; private init; } = [];

    public MqttSnOptions MqttSn { get; }

    /// The Cluster section; not Enabled without a name (a single node).
    public Kirisame.Cluster.ClusterSettings Cluster { get; private init; } = new();

    /// Tenants (docs/adr/0021-tenants.md): off unless Tenants:File or Tenants:Enabled is set.
    public TenantOptions Tenants { get; private init; } = new();

    /// What /api/v1/configuration shows: every section's options, defaults included (passwords are redacted
    /// there); SCRAM users by name only.
    public IReadOnlyDictionary<string, object?> Effective() => new Dictionary<string, object?>
    {
        ["Broker"] = Broker,
        [TransportOptions.SectionName] = Transport,
        [ListenerOptions.SectionName] = Listeners.ToDictionary(l => l.Name, l => (object)l),
        [SecurityOptions.SectionName] = Security,
        [StorageOptions.SectionName] = Storage,
        [ManagementOptions.SectionName] = Management,
        [TelemetryOptions.SectionName] = Telemetry,
        [MqttSnOptions.SectionName] = MqttSn,
        // The membership store's configuration may hold a password: only whether one is set is shown.
        [Kirisame.Cluster.ClusterSettings.SectionName] = new Dictionary<string, object?>
        {
            ["Name"] = Cluster.Name, ["Seeds"] = Cluster.Seeds, ["Membership"] = Cluster.Membership.Length == 0 ? "" : Cluster.UsesRedis ? "redis (set)" : Cluster.UsesPostgres ? "postgres (set)" : "(set)",
            ["SiloPort"] = Cluster.SiloPort, ["GatewayPort"] = Cluster.GatewayPort, ["AdvertisedAddress"] = Cluster.AdvertisedAddress,
            ["SharedStore"] = Cluster.SharedStore, ["ProbeTimeout"] = Cluster.ProbeTimeout, ["MissedProbesLimit"] = Cluster.MissedProbesLimit, ["MembershipTimeout"] = Cluster.MembershipTimeout,
        },
        [TenantOptions.SectionName] = Tenants,
        [AuthenticationConfiguration.SectionName] = new Dictionary<string, object?> { ["ScramUsers"] = Authentication.ScramUsers.Select(u => u.Key).ToList() },
    };

    /// <paramref name="mosquittoConf"/>: the keys a mosquitto.conf converted to (--mosquitto-conf), read before the JSON file.
    public static ServerConfiguration? Load(CommandLine commandLine, IDictionary<string, string?>? environment, List<string> errors,
        IReadOnlyDictionary<string, string?>? mosquittoConf = null)
    {
        var builder = new ConfigurationBuilder().AddInMemoryCollection(s_defaults);
        if (mosquittoConf is not null)
            builder.AddInMemoryCollection(mosquittoConf);
        if (commandLine.ConfigFile is { } file)
        {
            var path = Path.GetFullPath(file);
            if (!File.Exists(path))
            {
                errors.Add($"Configuration file '{file}' does not exist.");
                return null;
            }
            builder.AddJsonFile(path, optional: false, reloadOnChange: false);
        }
        if (environment is null)
            builder.AddEnvironmentVariables(EnvironmentPrefix);
        else
            builder.AddInMemoryCollection(FromEnvironment(environment));
        builder.AddInMemoryCollection(commandLine.Overrides);
        var runtime = new Logging.RuntimeSettingsSource(); // last: what an operator sets while the process runs
        builder.Add(runtime);

        IConfigurationRoot root;
        try
        {
            root = builder.Build();
        }
        catch (Exception ex) when (ex is FormatException or InvalidDataException or IOException)
        {
            errors.Add($"Configuration file '{commandLine.ConfigFile}' could not be read: {Describe(ex)}");
            if (commandLine.ConfigFile is { } given && MosquittoConf.MosquittoConfReader.LooksLikeMosquittoConf(given))
                errors.Add($"'{given}' looks like a mosquitto.conf: use --mosquitto-conf {given} (or 'kirisame config convert {given}' to see it as JSON).");
            return null;
        }

        foreach (var section in root.GetChildren())
        {
            if (!s_knownSections.Contains(section.Key, StringComparer.OrdinalIgnoreCase))
                errors.Add($"Unknown configuration section '{section.Key}'. Known sections: {string.Join(", ", s_knownSections)}.");
        }

        var broker = Bind<BrokerOptions>(root, "Broker", errors);
        var transport = Bind<TransportOptions>(root, TransportOptions.SectionName, errors);
        var security = Bind<SecurityOptions>(root, SecurityOptions.SectionName, errors);
        var listeners = new List<ListenerOptions>();
        foreach (var child in root.GetSection(ListenerOptions.SectionName).GetChildren())
        {
            var listener = Bind<ListenerOptions>(root, $"{ListenerOptions.SectionName}:{child.Key}", errors, ignore: nameof(ListenerOptions.Name));
            listener.Name = child.Key;
            listeners.Add(listener);
        }

        var storage = Bind<StorageOptions>(root, StorageOptions.SectionName, errors);
        var authentication = AuthenticationConfiguration.Read(root, errors);
        var management = Bind<ManagementOptions>(root, ManagementOptions.SectionName, errors);
        var telemetry = Bind<TelemetryOptions>(root, TelemetryOptions.SectionName, errors);
        var mqttSn = Bind<MqttSnOptions>(root, MqttSnOptions.SectionName, errors);
        var cluster = Bind<Kirisame.Cluster.ClusterSettings>(root, Kirisame.Cluster.ClusterSettings.SectionName, errors);
        var tenants = Bind<TenantOptions>(root, TenantOptions.SectionName, errors);
        errors.AddRange(CheckLogging(root));
        var bridges = Kirisame.Bridges.BridgeConfiguration.Parse(root.GetSection(Kirisame.Bridges.BridgeConfiguration.SectionName).AsEnumerable(makePathsRelative: true),
            System.Net.Dns.GetHostName(), errors);

        if (errors.Count > 0)
            return null;

        errors.AddRange(broker.Validate());
        errors.AddRange(transport.Validate());
        errors.AddRange(security.Validate());
        foreach (var listener in listeners)
            errors.AddRange(listener.Validate());
        errors.AddRange(storage.Validate());
        errors.AddRange(management.Validate());
        errors.AddRange(telemetry.Validate());
        errors.AddRange(mqttSn.Validate());
        errors.AddRange(cluster.Validate());
        if (cluster.SharedStore.Length > 0 && storage.InMemory)
            errors.Add($"{Kirisame.Cluster.ClusterSettings.SectionName}:SharedStore keeps each node's sessions in a store folder there: it cannot go with Storage:InMemory (--in-memory).");
        else if (cluster.Enabled && cluster.SharedStore.Length > 0)
            storage.DataDirectory = cluster.StoreFolder; // this node's folder in the shared one (Storage:DataDirectory is not used)
        errors.AddRange(tenants.Validate());
        foreach (var listener in listeners.Where(l => l.Tenant is not null))
        {
            if (!tenants.On)
                errors.Add($"{ListenerOptions.SectionName}:{listener.Name}:Tenant: tenants are not enabled (set Tenants:File or Tenants:Enabled true).");
            else if (listener.Tenant != TenantDirectory.DefaultTenant && TenantDirectory.Invalid(listener.Tenant, tenants.Separator) is { } invalid)
                errors.Add($"{ListenerOptions.SectionName}:{listener.Name}:Tenant: {invalid}.");
        }

        if (mqttSn.Enabled && mqttSn.Tenant is { } snTenant)
        {
            if (!tenants.On)
                errors.Add($"{MqttSnOptions.SectionName}:Tenant: tenants are not enabled (set Tenants:File or Tenants:Enabled true).");
            else if (snTenant != TenantDirectory.DefaultTenant && TenantDirectory.Invalid(snTenant, tenants.Separator) is { } invalid)
                errors.Add($"{MqttSnOptions.SectionName}:Tenant: {invalid}.");
        }

        foreach (var bridge in bridges.Where(b => b.Tenant is not null))
        {
            var key = $"{Kirisame.Bridges.BridgeConfiguration.SectionName}:{bridge.Name}:Tenant";
            if (!tenants.On)
                errors.Add($"{key}: tenants are not enabled (set Tenants:File or Tenants:Enabled true).");
            else if (TenantDirectory.Invalid(bridge.Tenant!, tenants.Separator) is { } invalid)
                errors.Add($"{key}: {invalid}.");
        }

        var configuration = new ServerConfiguration(root, broker, transport, listeners, security, storage, authentication, management, telemetry, mqttSn)
        {
            Runtime = runtime.Provider,
            Bridges = bridges,
            Cluster = cluster,
            Tenants = tenants,
        };
        if (errors.Count == 0)
            errors.AddRange(configuration.CheckEndPoints());
        return errors.Count > 0 ? null : configuration;
    }

    private static readonly string[] s_consoleFormatters = ["kirisame", "simple", "json", "systemd"];

    /// The logging library reads levels and the console formatter only when the first logger is made, where a bad
    /// one is an unhandled exception (exit 134) or, for a formatter, silently ignored: checked here, with the key.
    private static IEnumerable<string> CheckLogging(IConfiguration root)
    {
        foreach (var (key, value) in root.GetSection("Logging").AsEnumerable())
        {
            if (value is null)
                continue;
            var levels = key.Split(':');
            var isLevel = levels.Length >= 2 && levels[^2].Equals("LogLevel", StringComparison.OrdinalIgnoreCase);
            if (isLevel && (int.TryParse(value, out _) || !Enum.TryParse<Microsoft.Extensions.Logging.LogLevel>(value, ignoreCase: true, out _)))
                yield return $"{key} must be Trace, Debug, Information, Warning, Error, Critical or None (was '{value}').";
        }

        if (root["Logging:Console:FormatterName"] is { } formatter && !s_consoleFormatters.Contains(formatter, StringComparer.OrdinalIgnoreCase))
            yield return $"Logging:Console:FormatterName must be {string.Join(", ", s_consoleFormatters)} (was '{formatter}').";
    }

    /// Why a configuration file could not be read, with the line and column when it is not valid JSON: the JSON
    /// provider says only "Could not parse the JSON file." and keeps the position in an inner exception.
    private static string Describe(Exception ex)
    {
        for (var inner = ex; inner is not null; inner = inner.InnerException)
        {
            if (inner is System.Text.Json.JsonException { LineNumber: { } line } json)
            {
                var column = json.BytePositionInLine is { } position ? $", column {position + 1}" : "";
                var what = json.Message.Split(" LineNumber:", 2)[0].TrimEnd();
                return $"not valid JSON at line {line + 1}{column}: {what}";
            }
        }

        return ex.InnerException?.Message ?? ex.Message;
    }

    /// Environment variables arrive as KIRISAME__Section__Key; the configuration key is Section:Key.
    private static IEnumerable<KeyValuePair<string, string?>> FromEnvironment(IDictionary<string, string?> environment)
    {
        foreach (var (name, value) in environment)
        {
            if (name.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
                yield return new(name[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal), value);
        }
    }

    /// Two listeners on one address and port would fail at bind time with a less helpful message.
    private IEnumerable<string> CheckEndPoints()
    {
        var seen = new Dictionary<string, string>();
        if (!Transport.Enabled && Listeners.Count == 0)
            yield return "No listeners: Transport:Enabled is false and no Listeners are configured.";
        // Connections carry their listener's name to the broker, which picks the listener's security by it.
        if (Transport.Enabled && Listeners.FirstOrDefault(l => string.Equals(l.Name, Transport.DefaultListener.Name, StringComparison.OrdinalIgnoreCase)) is { } clash)
            yield return $"{ListenerOptions.SectionName}:{clash.Name}: the name '{clash.Name}' belongs to the default listener (Transport); choose another name or set Transport:Enabled false.";
        var all = Listeners.Select(l => (Key: $"{ListenerOptions.SectionName}:{l.Name}", Listener: l));
        if (Transport.Enabled)
            all = all.Prepend((TransportOptions.SectionName, Transport.DefaultListener));
        foreach (var (key, listener) in all)
        {
            if (listener.EffectivePort == 0)
                continue;
            var endPoint = listener.EndPoint.ToString();
            if (seen.TryGetValue(endPoint, out var other))
                yield return $"{other} and {key} both listen on {endPoint}.";
            else
                seen[endPoint] = key;
        }

        if (MqttSn.Enabled && !AllListeners.Any(l => string.Equals(l.Name, MqttSn.Listener, StringComparison.Ordinal)))
            yield return $"{MqttSnOptions.SectionName}:Listener: no listener is named '{MqttSn.Listener}' (MQTT-SN clients are held to that listener's ACL).";
        if (Management.Enabled && Management.Port != 0 && seen.TryGetValue(Management.EndPoint.ToString(), out var mqtt))
            yield return $"{mqtt} and {ManagementOptions.SectionName} both listen on {Management.EndPoint}: give the management listener another Port.";
    }

    internal static T Bind<T>(IConfiguration root, string sectionName, List<string> errors, string? ignore = null) where T : new()
    {
        var options = new T();
        var properties = typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.Name != ignore)
            .ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);

        foreach (var child in root.GetSection(sectionName).GetChildren())
        {
            var key = $"{sectionName}:{child.Key}";
            if (!properties.TryGetValue(child.Key, out var property))
            {
                errors.Add($"Unknown option {key}. Known keys in {sectionName}: {string.Join(", ", properties.Keys)}.");
                continue;
            }
            if (property.PropertyType == typeof(Dictionary<string, string>))
            {
                BindDictionary(child, key, (Dictionary<string, string>)property.GetValue(options)!, errors);
                continue;
            }
            if (child.Value is null)
            {
                errors.Add($"{key} must be a single value, not a section.");
                continue;
            }
            try
            {
                property.SetValue(options, Convert(child.Value, property.PropertyType));
            }
            catch (Exception ex) when (ex is FormatException or OverflowException or ArgumentException)
            {
                errors.Add($"{key} must be {Describe(property.PropertyType)} (was '{child.Value}').");
            }
        }
        return options;
    }

    /// A section of NAME = value pairs, such as Management:Roles:alice = administrator.
    private static void BindDictionary(IConfigurationSection section, string key, Dictionary<string, string> target, List<string> errors)
    {
        if (section.Value is { Length: > 0 })
            errors.Add($"{key} must be a section of NAME = value pairs (e.g. {key}:alice), not a single value.");
        foreach (var entry in section.GetChildren())
        {
            if (entry.Value is null)
                errors.Add($"{key}:{entry.Key} must be a single value, not a section.");
            else
                target[entry.Key] = entry.Value;
        }
    }

    private static object? Convert(string value, Type type)
    {
        var underlying = Nullable.GetUnderlyingType(type);
        if (underlying is not null)
            return value.Length == 0 ? null : Convert(value, underlying);
        if (type == typeof(string))
            return value;
        if (type == typeof(bool))
            return bool.Parse(value);
        if (type == typeof(TimeSpan))
            return TimeSpan.Parse(value, CultureInfo.InvariantCulture);
        if (type.IsEnum)
        {
            // Names only: Enum.Parse would also accept any number, defined or not.
            var match = Enum.GetNames(type).FirstOrDefault(name => string.Equals(name, value, StringComparison.OrdinalIgnoreCase));
            return match is null ? throw new FormatException() : Enum.Parse(type, match);
        }
        return System.Convert.ChangeType(value, type, CultureInfo.InvariantCulture);
    }

    private static string Describe(Type type)
    {
        var underlying = Nullable.GetUnderlyingType(type);
        if (underlying is not null)
            return Describe(underlying) + " or empty";
        if (type == typeof(bool))
            return "true or false";
        if (type == typeof(TimeSpan))
            return "a duration such as 00:00:10";
        if (type.IsEnum)
            return $"one of {string.Join(", ", Enum.GetNames(type))}";
        if (type == typeof(int) || type == typeof(long) || type == typeof(uint) || type == typeof(ushort))
            return $"a whole number ({type.Name})";
        return $"a {type.Name}";
    }
}
