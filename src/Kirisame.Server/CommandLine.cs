namespace Kirisame.Server;

internal enum CommandKind
{
    Serve,
    Bench,
    Help,
    Version,
}

/// The parsed command line. Anything that names a configuration key becomes an override; the rest is
/// either a known flag or an error.
internal sealed class CommandLine
{
    public CommandKind Command { get; private set; } = CommandKind.Serve;

    public string? ConfigFile { get; private set; }

    /// Configuration keys in "Section:Key" form, applied after the JSON file and the environment.
    public Dictionary<string, string?> Overrides { get; } = new(StringComparer.OrdinalIgnoreCase);

    public List<string> Errors { get; } = [];

    /// For `kirisame bench`: everything after the word, parsed by Kirisame.Bench.
    public IReadOnlyList<string> BenchArguments { get; private set; } = [];

    public const string Usage = """
        kirisame — an MQTT 3.1/3.1.1/5.0 broker

        Usage:
          kirisame [serve] [options]     run the broker in the foreground (the default)
          kirisame bench --scenario S …  load-test a broker (kirisame bench --help)
          kirisame --help | --version

        Options:
          --port N               TCP port to listen on (Transport:Port, default 1883)
          --bind ADDRESS         IP address to bind (Transport:BindAddress, default 127.0.0.1)
          --data-dir DIR         data folder for sessions, queues and retained messages
                                 (Storage:DataDirectory, default ./data; created if missing)
          --durability MODE      sync (default: acknowledge QoS 1/2 after an fsync'd group commit),
                                 batched (fsync every 100 ms, acknowledge before it) or none
          --in-memory            keep nothing across restarts (no data folder)
          --config FILE          JSON configuration file
          --Section:Key VALUE    any configuration key, e.g. --Broker:MaximumQoS 1
                                 or --Logging:LogLevel:Default Debug
          -h, --help             show this help
          --version              show the version

        Configuration is read from embedded defaults, then FILE, then environment variables
        KIRISAME__Section__Key, then the command line; the last one wins. Sections: Broker, Transport,
        Storage, Authentication, Logging.
        """;

    public static CommandLine Parse(IReadOnlyList<string> args)
    {
        var result = new CommandLine();
        var i = 0;
        if (args.Count > 0 && args[0] == "bench")
        {
            result.Command = CommandKind.Bench;
            result.BenchArguments = [.. args.Skip(1)];
            return result;
        }
        if (args.Count > 0 && args[0] == "serve")
            i = 1;

        for (; i < args.Count; i++)
        {
            var token = args[i];
            if (token is "-h" or "--help" or "-?")
            {
                result.Command = CommandKind.Help;
                return result;
            }
            if (token == "--version")
            {
                result.Command = CommandKind.Version;
                return result;
            }
            if (!token.StartsWith("--", StringComparison.Ordinal) || token.Length == 2)
            {
                result.Errors.Add(i == 0
                    ? $"Unknown command '{token}'. The commands are 'serve' and 'bench'."
                    : $"Unexpected argument '{token}'.");
                continue;
            }

            var name = token[2..];
            string? value = null;
            var equals = name.IndexOf('=', StringComparison.Ordinal);
            if (equals >= 0)
            {
                value = name[(equals + 1)..];
                name = name[..equals];
            }

            if (name == "in-memory")
            {
                result.Overrides["Storage:InMemory"] = value ?? "true";
                continue;
            }

            var isKey = name.Contains(':', StringComparison.Ordinal) && !name.StartsWith(':') && !name.EndsWith(':');
            if (name is not ("port" or "bind" or "config" or "data-dir" or "durability") && !isKey)
            {
                result.Errors.Add($"Unknown option '--{name}'.");
                continue;
            }
            if (value is null && i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                value = args[++i];
            if (value is null)
            {
                result.Errors.Add($"Option '--{name}' needs a value.");
                continue;
            }

            switch (name)
            {
                case "port":
                    result.Overrides["Transport:Port"] = value;
                    break;
                case "bind":
                    result.Overrides["Transport:BindAddress"] = value;
                    break;
                case "config":
                    result.ConfigFile = value;
                    break;
                case "data-dir":
                    result.Overrides["Storage:DataDirectory"] = value;
                    break;
                case "durability":
                    result.Overrides["Storage:Durability"] = value;
                    break;
                default:
                    result.Overrides[name] = value;
                    break;
            }
        }
        return result;
    }
}
