using System.Globalization;
using System.Reflection;
using Kirisame.Broker;

namespace Kirisame.Server;

/// What the server runs with, told once at start-up in one block (issue 17): an operator reading the log of a
/// host they did not set up finds the version, each listener with its real scheme and security, the store, and
/// every broker setting that is not the default, together instead of scattered over a dozen lines.
internal sealed class StartupSummary
{
    /// Listener name → how clients are admitted there ("password file /etc/kirisame/passwd (3 users), anonymous
    /// refused; ACL file /etc/kirisame/acl"). Filled by SecuritySetup once the files have loaded.
    public Dictionary<string, string> Security { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// "RocksDB /var/lib/kirisame (sync)" or "in memory (nothing survives a restart)".
    public string Store { get; set; } = "";

    /// "cluster NAME, silo …, membership …", or null for a single node.
    public string? Cluster { get; set; }

    /// Broker settings that differ from the defaults, as "Broker:Key=value".
    public List<string> Changed { get; } = [];

    public void AddChangedSettings(BrokerOptions options) => Changed.AddRange(Differences(options, new BrokerOptions(), "Broker"));

    /// Public settable properties of <paramref name="configured"/> whose value differs from <paramref name="defaults"/>.
    internal static IEnumerable<string> Differences<T>(T configured, T defaults, string section) where T : class
    {
        foreach (var property in typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (!property.CanWrite || property.GetIndexParameters().Length > 0)
                continue;
            var value = property.GetValue(configured);
            if (!Equals(value, property.GetValue(defaults)))
                yield return $"{section}:{property.Name}={Format(value)}";
        }
    }

    private static string Format(object? value) => value switch
    {
        null => "(none)",
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// The block, one item per line.
    public string Describe(string version, IEnumerable<(string Name, string Scheme, string Address)> listeners)
    {
        var lines = new List<string> { $"Kirisame {version} is ready" };
        foreach (var (name, scheme, address) in listeners)
            lines.Add($"  listener {name}: {scheme}://{address}; {Security.GetValueOrDefault(name, "security not reported")}");
        lines.Add($"  store: {Store}");
        if (Cluster is not null)
            lines.Add($"  {Cluster}");
        lines.Add(Changed.Count == 0 ? "  settings: the defaults" : $"  settings that differ from the defaults: {string.Join(", ", Changed)}");
        return string.Join(Environment.NewLine, lines);
    }
}
