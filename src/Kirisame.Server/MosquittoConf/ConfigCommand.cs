using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kirisame.Server.MosquittoConf;

/// `kirisame config convert FILE`: prints the JSON configuration equivalent to a mosquitto.conf (what
/// `--mosquitto-conf FILE` runs with), and on stderr what it cannot honour.
internal static class ConfigCommand
{
    public const string Usage = """
        kirisame config — configuration tools

        Usage:
          kirisame config convert FILE    print the JSON configuration (for --config) equivalent to the
                                          mosquitto.conf FILE; directives it cannot honour go to stderr
                                          with their line number

        Exit codes: 0 converted (perhaps with warnings), 2 bad arguments or a directive that is an error
        (README, "Migrating from mosquitto.conf", lists which).
        """;

    private static readonly JsonSerializerOptions s_indented = new() { WriteIndented = true };

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Any(a => a is "-h" or "--help"))
        {
            await stdout.WriteLineAsync(Usage);
            return KirisameCommand.ExitOk;
        }

        if (args is not ["convert", var file] || file.StartsWith('-'))
        {
            await stderr.WriteLineAsync("kirisame: Usage: kirisame config convert FILE");
            return KirisameCommand.ExitUsage;
        }

        if (!File.Exists(file))
        {
            await stderr.WriteLineAsync($"kirisame: '{file}' does not exist.");
            return KirisameCommand.ExitUsage;
        }

        var conversion = MosquittoConfConverter.Convert(file);
        await ReportAsync(conversion, stderr);
        if (conversion.HasErrors)
            return KirisameCommand.ExitUsage;
        await stdout.WriteLineAsync(ToJson(conversion.Settings).ToJsonString(s_indented));
        return KirisameCommand.ExitOk;
    }

    /// For `kirisame --mosquitto-conf FILE`: the configuration keys, or Failed (the errors already written) when
    /// the file is missing or has a directive that is an error. No file: (null, false).
    public static async Task<(IReadOnlyDictionary<string, string?>? Settings, bool Failed)> ReadForServerAsync(string? file, TextWriter stderr)
    {
        if (file is null)
            return (null, false);
        if (!File.Exists(file))
        {
            await stderr.WriteLineAsync($"kirisame: Mosquitto configuration file '{file}' does not exist.");
            return (null, true);
        }

        var conversion = MosquittoConfConverter.Convert(file);
        await ReportAsync(conversion, stderr);
        return conversion.HasErrors ? (null, true) : (conversion.ToConfiguration(), false);
    }

    /// Every diagnostic, one line each: "kirisame: mosquitto.conf:12: warning: …".
    public static async Task ReportAsync(ConfConversion conversion, TextWriter stderr)
    {
        foreach (var diagnostic in conversion.Diagnostics)
            await stderr.WriteLineAsync($"kirisame: {diagnostic}");
    }

    /// "A:B:C" keys as nested objects; a section whose keys are 0, 1, 2 … is an array.
    public static JsonNode ToJson(IReadOnlyDictionary<string, object> settings)
    {
        var root = new JsonObject();
        foreach (var (key, value) in settings)
        {
            var parts = key.Split(':');
            var node = root;
            foreach (var part in parts[..^1])
            {
                if (node[part] is not JsonObject child)
                    node[part] = child = [];
                node = child;
            }

            node[parts[^1]] = value switch
            {
                bool b => JsonValue.Create(b),
                int i => JsonValue.Create(i),
                long l => JsonValue.Create(l),
                uint u => JsonValue.Create(u),
                _ => JsonValue.Create(value.ToString()),
            };
        }

        return Arrays(root);
    }

    private static JsonNode Arrays(JsonNode node)
    {
        if (node is not JsonObject obj)
            return node;
        var children = obj.ToList();
        obj.Clear();
        var converted = children.Select(c => (c.Key, Value: Arrays(c.Value!))).ToList();
        if (converted.Count > 0 && converted.Select((c, i) => c.Key == i.ToString(System.Globalization.CultureInfo.InvariantCulture)).All(x => x))
            return new JsonArray([.. converted.Select(c => c.Value)]);
        foreach (var (key, value) in converted)
            obj[key] = value;
        return obj;
    }
}
