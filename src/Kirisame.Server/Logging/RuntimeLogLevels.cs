using Kirisame.Management;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Kirisame.Server.Logging;

/// The last configuration source: empty at start, it takes the log levels an operator sets at runtime (the
/// management API's PUT /api/v1/logging) and then signals a change, which the logging configuration (bound to
/// the Logging section with a change token) applies to every logger at once. Nothing else is re-read: the file
/// and the command line stay as they were.
internal sealed class RuntimeSettingsSource : IConfigurationSource
{
    public RuntimeSettingsProvider Provider { get; } = new();

    public IConfigurationProvider Build(IConfigurationBuilder builder) => Provider;
}

internal sealed class RuntimeSettingsProvider : ConfigurationProvider
{
    public void SetAndSignal(string key, string value)
    {
        Set(key, value);
        OnReload();
    }
}

internal sealed class RuntimeLogLevels(IConfiguration root, RuntimeSettingsProvider runtime) : IRuntimeLogLevels
{
    private const string Section = "Logging:LogLevel";

    public IReadOnlyDictionary<string, LogLevel> Levels()
    {
        var levels = new SortedDictionary<string, LogLevel>(StringComparer.Ordinal);
        foreach (var entry in root.GetSection(Section).GetChildren())
        {
            if (Enum.TryParse<LogLevel>(entry.Value, ignoreCase: true, out var level))
                levels[entry.Key] = level;
        }

        return levels;
    }

    public void Set(string? category, LogLevel level) => runtime.SetAndSignal($"{Section}:{category ?? "Default"}", level.ToString());
}
