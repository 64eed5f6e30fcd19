using System.Text.Json;

namespace Kirisame.Server.Ctl;

/// `kirisame ctl`: the management API from the command line, as rabbitmqctl and emqx ctl are for theirs.
/// Each command is one or two API calls; the output is a table (or key: value lines), or the API's JSON
/// with --json.
internal static partial class CtlCommand
{
    public const int ExitRefused = 1;
    public const int ExitUnreachable = 3;
    public const int ExitUnauthorized = 4;

    public const string Usage = """
        kirisame ctl — manage a running broker over its management API

        Usage: kirisame ctl [options] COMMAND

        Commands:
          status                                 version, uptime, counts, rates, listeners
          clients [list] [--id PART] [--user-name NAME] [--address START] [--listener NAME] [--connected true|false]
          clients show CLIENT_ID
          clients kick CLIENT_ID                 disconnect it (MQTT 5: DISCONNECT 0x98); the session stays
          sessions [list] [--id PART] [--connected true|false]
          sessions show CLIENT_ID
          sessions delete CLIENT_ID              end the session (disconnects its client)
          subscriptions [list] [--client PART] [--filter FILTER]
          subscriptions add CLIENT_ID FILTER [--qos N]
          subscriptions remove CLIENT_ID FILTER
          retained [list] [--filter FILTER]      retained messages (default filter #)
          retained show TOPIC
          retained delete TOPIC
          topics [--filter FILTER]               the busiest topics of the last 10 s, with messages/s
          publish TOPIC MESSAGE [--qos N] [--retain]
          configuration                          the effective configuration (JSON; passwords redacted)
          listeners                              the MQTT listeners and their addresses
          listeners add NAME PORT [--protocol mqtt|mqtts] [--bind ADDRESS] [--certificate FILE] [--key FILE] [--security-of LISTENER]
                                                 listen now, until the server stops (not written to the configuration)
          listeners stop NAME                    stop a listener added so: new connections refused, open ones go on
          listeners tls NAME CERTIFICATE [--key FILE]  new certificate files for a TLS listener's next handshakes
          users [list]                           users of the MQTT password file (Security:PasswordFile)
          users add USER PASSWORD                add a user (or change its password); in force within a second
          users passwd USER PASSWORD             change a user's password
          users delete USER
          acl reload                             re-read the ACL files now
          bans [list]                            addresses banned after failed logins
          bans lift ADDRESS                      in every tenant (or the one --tenant names)
          tenants [list]                         each tenant: connected clients, sessions, retained messages, quotas
          log-level                              the log levels in force
          log-level LEVEL [--category NAME]      set Default's (or a category's) level: Trace … Critical, None

        Options:
          --url URL          the management API (default http://127.0.0.1:8081, or KIRISAME_URL)
          --token TOKEN      an API token (or KIRISAME_TOKEN); see 'kirisame token'
          --user NAME        an admin user (or KIRISAME_USER); the password is read from KIRISAME_PASSWORD,
                             or from standard input
          --cafile FILE      PEM CA that an https:// URL's certificate must chain to
          --json             print the API's JSON instead of a table
          --limit N, --offset N  paging of lists (default 100 from 0)
          --tenant NAME      status, clients, sessions, subscriptions, retained and topics of that tenant (and
                             their show/kick/delete), instead of the default tenant's
          --timeout SECONDS  how long to wait for the API (default 30)

        Exit codes: 0 done; 1 the broker refused (no such client, bad input: the problem is printed);
        2 bad arguments; 3 the API could not be reached; 4 not authenticated or not allowed (role).
        """;

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr) =>
        await RunAsync(args, stdout, stderr, Environment.GetEnvironmentVariable, Console.In);

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, Func<string, string?> environment, TextReader stdin)
    {
        var arguments = CtlArguments.Parse(args, environment);
        if (arguments.Help || arguments.Words.Count == 0 && arguments.Errors.Count == 0)
        {
            await (arguments.Help ? stdout : stderr).WriteLineAsync(Usage);
            return arguments.Help ? KirisameCommand.ExitOk : KirisameCommand.ExitUsage;
        }

        if (arguments.Errors.Count > 0)
            return await UsageErrorAsync(stderr, arguments.Errors);
        if (Find(arguments.Words) is not { } command)
            return await UsageErrorAsync(stderr, [$"Unknown command '{string.Join(' ', arguments.Words)}'."]);
        if (command.Check(arguments) is { } problem)
            return await UsageErrorAsync(stderr, [problem]);

        var password = arguments.User is null ? null : environment("KIRISAME_PASSWORD") ?? await stdin.ReadLineAsync();
        try
        {
            using var client = new ManagementClient(arguments, password);
            var response = await command.Run(client, arguments);
            if (!response.Ok)
            {
                await stderr.WriteLineAsync($"kirisame: {response.Problem()}");
                return (int)response.Status is 401 or 403 ? ExitUnauthorized : ExitRefused;
            }

            if (arguments.Json)
                await stdout.WriteLineAsync(response.Body is { } body ? JsonSerializer.Serialize(body, s_indented) : "{}");
            else
                command.Print(stdout, response.Body);
            return KirisameCommand.ExitOk;
        }
        catch (UnreachableException ex)
        {
            await stderr.WriteLineAsync($"kirisame: {ex.Message}");
            return ExitUnreachable;
        }
        catch (Exception ex) when (ex is IOException or System.Security.Cryptography.CryptographicException)
        {
            await stderr.WriteLineAsync($"kirisame: {ex.Message}");
            return KirisameCommand.ExitUsage;
        }
    }

    private static readonly JsonSerializerOptions s_indented = new() { WriteIndented = true };

    private static async Task<int> UsageErrorAsync(TextWriter stderr, IEnumerable<string> errors)
    {
        foreach (var error in errors)
            await stderr.WriteLineAsync($"kirisame: {error}");
        await stderr.WriteLineAsync("Run 'kirisame ctl --help' for usage.");
        return KirisameCommand.ExitUsage;
    }
}
