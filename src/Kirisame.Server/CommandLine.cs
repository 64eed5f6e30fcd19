namespace Kirisame.Server;

internal enum CommandKind
{
    Serve,
    Bench,
    Help,
    Version,
    Man,
    Passwd,
    PasswdHelp,
    Ctl,
    Token,
    Config,
    Pub,
    Sub,
}

/// The parsed command line. Anything that names a configuration key becomes an override; the rest is
/// either a known flag or an error.
internal sealed class CommandLine
{
    public CommandKind Command { get; private set; } = CommandKind.Serve;

    public string? ConfigFile { get; private set; }

    /// --mosquitto-conf: a mosquitto.conf read in place of (or before) the JSON file (MosquittoConf/).
    public string? MosquittoConfFile { get; private set; }

    /// Configuration keys in "Section:Key" form, applied after the JSON file and the environment.
    public Dictionary<string, string?> Overrides { get; } = new(StringComparer.OrdinalIgnoreCase);

    public List<string> Errors { get; } = [];

    /// `kirisame passwd`: the file, the user, and the password when given on the command line (-b).
    public PasswdArguments? Passwd { get; private set; }

    /// Flags that are shorthands for configuration keys. The TLS and WebSocket ones declare the listeners
    /// "tls" and "ws"; --bind then applies to them too.
    private static readonly Dictionary<string, string[]> s_shorthands = new(StringComparer.Ordinal)
    {
        ["port"] = ["Transport:Port"],
        ["bind"] = ["Transport:BindAddress"],
        ["tls-port"] = ["Listeners:tls:Port"],
        ["cert"] = ["Listeners:tls:Certificate"],
        ["key"] = ["Listeners:tls:PrivateKey"],
        ["cafile"] = ["Listeners:tls:ClientCaFile"],
        ["ws-port"] = ["Listeners:ws:Port"],
        ["password-file"] = ["Security:PasswordFile"],
        ["acl-file"] = ["Security:AclFile"],
        ["allow-anonymous"] = ["Security:AllowAnonymous"],
        ["data-dir"] = ["Storage:DataDirectory"],
        ["durability"] = ["Storage:Durability"],
        ["management-port"] = ["Management:Port"],
        ["cluster"] = ["Cluster:Name"],
        ["cluster-seeds"] = ["Cluster:Seeds"],
        ["cluster-port"] = ["Cluster:SiloPort"],
        ["cluster-shared-store"] = ["Cluster:SharedStore"],
    };

    /// For `kirisame bench`: everything after the word, parsed by Kirisame.Bench.
    public IReadOnlyList<string> BenchArguments { get; private set; } = [];

    /// For `kirisame ctl`, `kirisame token` and `kirisame config`: everything after the word, parsed by their commands.
    public IReadOnlyList<string> SubcommandArguments { get; private set; } = [];

    public const string Usage = """
        kirisame — an MQTT 3.1/3.1.1/5.0 broker

        Usage:
          kirisame [serve] [options]     run the broker in the foreground (the default)
          kirisame bench --scenario S …  load-test a broker (kirisame bench --help)
          kirisame passwd [-b] [--scram] [--iterations N] FILE USER [PASSWORD]
                                         add or change USER's password in FILE (created if missing);
                                         prompts for the password unless -b gives it as an argument;
                                         --scram writes a SCRAM-SHA-256 entry, usable for MQTT 5
                                         enhanced authentication and plain logins alike
          kirisame pub -t TOPIC -m MESSAGE …
                                         publish, as mosquitto_pub (kirisame pub --help)
          kirisame sub -t FILTER … [-v]  subscribe and print, as mosquitto_sub (kirisame sub --help)
          kirisame config convert FILE   print the JSON configuration equivalent to a mosquitto.conf
          kirisame ctl COMMAND …         manage a running broker over its management API (kirisame ctl --help)
          kirisame token [-D] FILE NAME [ROLE]
                                         make (or replace) the API token NAME in FILE with ROLE
                                         (administrator, monitoring or viewer) and print it; -D deletes it
          kirisame --help | --version | --man

        Options:
          --port N               TCP port to listen on (Transport:Port, default 1883)
          --bind ADDRESS         IP address to bind (Transport:BindAddress, default 127.0.0.1)
          --data-dir DIR         data folder for sessions, queues and retained messages
                                 (Storage:DataDirectory, default ./data; created if missing)
          --durability MODE      sync (default: acknowledge QoS 1/2 after an fsync'd group commit),
                                 batched (fsync every 100 ms, acknowledge before it) or none
          --in-memory            keep nothing across restarts (no data folder)
          --config FILE          JSON configuration file
          --mosquitto-conf FILE  read a Mosquitto configuration file (applied before --config FILE); what
                                 it cannot honour is reported with its line (README: migrating)
          --tls-port N           add an MQTT over TLS listener "tls" (Listeners:tls:Port)
          --cert FILE --key FILE
                                 its certificate and private key, PEM (Listeners:tls:Certificate, :PrivateKey)
          --cafile FILE          CA for client certificates on it (Listeners:tls:ClientCaFile)
          --ws-port N            add an MQTT over WebSockets listener "ws" on path /mqtt (Listeners:ws:Port)
          --password-file FILE   Mosquitto-format password file (Security:PasswordFile)
          --acl-file FILE        Mosquitto-format ACL file (Security:AclFile)
          --management-port N    port of the management API, /metrics and health (Management:Port,
                                 default 8081 on 127.0.0.1; Management:Enabled false turns it off)
          --cluster NAME         join the cluster NAME (Cluster:Name; README, "Cluster"); without it the
                                 broker is a single node and starts no cluster code
          --cluster-seeds LIST   silo endpoints HOST:PORT,… to find the other nodes through (Cluster:Seeds);
                                 the first one keeps the member list: its loss stops joins and failure
                                 detection, so use Cluster:Membership postgres:CONNECTION-STRING or
                                 redis:HOST:PORT in production
          --cluster-port N       this node's silo port for node-to-node traffic (Cluster:SiloPort, 11111)
          --cluster-shared-store DIR
                                 a folder all nodes share, holding each node's store (Cluster:SharedStore;
                                 replaces --data-dir): a dead node's persistent sessions are taken up by a
                                 live node from it
          --allow-anonymous [true|false]
                                 admit clients without a user name (Security:AllowAnonymous); by default
                                 only while every listener is on loopback and there is no password file
          --Section:Key VALUE    any configuration key, e.g. --Broker:MaximumQoS 1
                                 or --Logging:LogLevel:Default Debug
          -h, --help             show this help
          --version              show the version
          --man                  print this help and the subcommands' as the man page kirisame(1) (troff)

        Configuration is read from embedded defaults, then FILE, then environment variables
        KIRISAME__Section__Key, then the command line; the last one wins. Sections: Broker, Transport,
        Listeners, Security, Storage, Authentication, Management, Telemetry, Cluster, Logging.
        """;

    public static CommandLine Parse(IReadOnlyList<string> args)
    {
        var result = new CommandLine();
        var i = 0;
        if (args.Count > 0 && args[0] == "passwd")
        {
            result.ParsePasswd(args);
            return result;
        }

        if (args.Count > 0 && args[0] == "bench")
        {
            result.Command = CommandKind.Bench;
            result.BenchArguments = [.. args.Skip(1)];
            return result;
        }

        if (args.Count > 0 && args[0] is "ctl" or "token" or "config" or "pub" or "sub")
        {
            result.Command = args[0] switch
            {
                "ctl" => CommandKind.Ctl,
                "token" => CommandKind.Token,
                "pub" => CommandKind.Pub,
                "sub" => CommandKind.Sub,
                _ => CommandKind.Config,
            };
            result.SubcommandArguments = [.. args.Skip(1)];
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
            if (token == "--man")
            {
                result.Command = CommandKind.Man;
                return result;
            }
            if (!token.StartsWith("--", StringComparison.Ordinal) || token.Length == 2)
            {
                result.Errors.Add(i == 0
                    ? $"Unknown command '{token}'. Commands: serve, pub, sub, ctl, passwd, token, config, bench."
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
            if (name is not ("config" or "mosquitto-conf") && !s_shorthands.ContainsKey(name) && !isKey)
            {
                result.Errors.Add($"Unknown option '--{name}'.");
                continue;
            }
            if (value is null && i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                value = args[++i];
            if (value is null && name == "allow-anonymous")
                value = "true";
            if (value is null)
            {
                result.Errors.Add($"Option '--{name}' needs a value.");
                continue;
            }

            if (name == "config")
                result.ConfigFile = value;
            else if (name == "mosquitto-conf")
                result.MosquittoConfFile = value;
            else if (s_shorthands.TryGetValue(name, out var keys))
                foreach (var key in keys)
                    result.Overrides[key] = value;
            else
                result.Overrides[name] = value;
        }

        result.ApplyListenerShorthands();
        return result;
    }

    /// --tls-port/--cert/--key declare the "tls" listener, --ws-port the "ws" one; both bind where --bind says.
    private void ApplyListenerShorthands()
    {
        var tls = Overrides.Keys.Any(k => k.StartsWith("Listeners:tls:", StringComparison.Ordinal));
        var ws = Overrides.ContainsKey("Listeners:ws:Port");
        if (tls)
            Overrides.TryAdd("Listeners:tls:Protocol", "Mqtts");
        if (ws)
            Overrides.TryAdd("Listeners:ws:Protocol", "Ws");
        if (Overrides.TryGetValue("Transport:BindAddress", out var bind))
        {
            if (tls)
                Overrides.TryAdd("Listeners:tls:BindAddress", bind);
            if (ws)
                Overrides.TryAdd("Listeners:ws:BindAddress", bind);
        }

        if (Overrides.ContainsKey("Listeners:tls:ClientCaFile"))
            Overrides.TryAdd("Listeners:tls:ClientCertificates", "Required");
    }

    private void ParsePasswd(IReadOnlyList<string> args)
    {
        Command = CommandKind.Passwd;
        var batch = false;
        var scram = false;
        var create = false;
        var delete = false;
        int? iterations = null;
        var positional = new List<string>();
        for (var i = 1; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "-b":
                    batch = true;
                    break;
                case "--scram":
                    scram = true;
                    break;
                case "-c":
                    create = true;
                    break;
                case "-D":
                    delete = true;
                    break;
                case "--iterations" when i + 1 < args.Count:
                    if (!int.TryParse(args[++i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var given)
                        || given is < 1 or > Broker.Security.PasswordHash.MaximumIterations)
                        Errors.Add($"--iterations must be between 1 and {Broker.Security.PasswordHash.MaximumIterations}.");
                    iterations = given;
                    break;
                case "-h" or "--help":
                    Command = CommandKind.PasswdHelp;
                    return;
                default:
                    if (args[i].StartsWith('-') && args[i].Length > 1)
                        Errors.Add($"Unknown option '{args[i]}' for passwd.");
                    else
                        positional.Add(args[i]);
                    break;
            }
        }

        if (delete && (batch || create || scram || iterations is not null))
        {
            Errors.Add("-D deletes a user: it takes only FILE USER. Usage: kirisame passwd -D FILE USER");
            return;
        }

        var expected = batch ? 3 : 2;
        if (positional.Count != expected)
        {
            Errors.Add(delete ? "Usage: kirisame passwd -D FILE USER"
                : batch ? "Usage: kirisame passwd [-c] -b FILE USER PASSWORD" : "Usage: kirisame passwd [-c] FILE USER");
            return;
        }

        var defaultIterations = scram ? Broker.Security.PasswordHash.DefaultScramIterations : Broker.Security.PasswordHash.DefaultIterations;
        Passwd = new PasswdArguments(positional[0], positional[1], batch ? positional[2] : null, iterations ?? defaultIterations, scram)
        {
            Create = create,
            Delete = delete,
        };
    }
}

/// Scram: write a $scram-sha256$ entry instead of $7$. Create: start a new file (as mosquitto_passwd -c), replacing
/// one that exists. Delete: remove the user (mosquitto_passwd -D).
internal sealed record PasswdArguments(string File, string User, string? Password, int Iterations, bool Scram = false)
{
    public bool Create { get; init; }

    public bool Delete { get; init; }

    public const string Usage = """
        kirisame passwd — manage a Mosquitto-format password file

        Usage:
          kirisame passwd [-c] [--scram] [--iterations N] FILE USER        prompts for the password
          kirisame passwd [-c] [--scram] [--iterations N] -b FILE USER PASSWORD
          kirisame passwd -D FILE USER                                   deletes the user

        Options:
          -b               take the password from the command line (scripts)
          -c               create a new file, replacing FILE if it exists
          -D               delete USER from FILE
          --scram          write a SCRAM-SHA-256 entry ($scram-sha256$: SCRAM and plain logins; Mosquitto
                           does not read it) instead of PBKDF2-SHA512 ($7$, which Mosquitto reads too)
          --iterations N   PBKDF2 iterations (default 210000 for $7$, 4096 for --scram)
          -h, --help       show this help

        A new FILE is readable by its owner and group only (0640); a changed one keeps its mode, owner and group,
        so 'chgrp mosquitto FILE' once lets Mosquitto, which drops privileges, read it too. A running broker
        picks up changes to the file without a restart. Exit codes: 0 done, 1 the file could not be written or
        the user to delete does not exist, 2 bad arguments.
        """;
}
