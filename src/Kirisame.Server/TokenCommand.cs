using Kirisame.Management.Security;

namespace Kirisame.Server;

/// `kirisame token FILE NAME ROLE`: makes an API token for the management API, writes its hash to FILE
/// (Management:TokenFile) and prints the token, which is kept nowhere else. `-D FILE NAME` deletes one.
internal static class TokenCommand
{
    public const string Usage = """
        kirisame token — manage API tokens of the management API (Management:TokenFile)

        Usage:
          kirisame token FILE NAME ROLE    make a token NAME with ROLE (administrator, monitoring or viewer),
                                           replacing NAME's previous token; prints it (only once: FILE keeps
                                           its SHA-256, not the token)
          kirisame token -D FILE NAME      delete the token NAME

        A running broker picks up changes to FILE without a restart. Use a token with
        'Authorization: Bearer TOKEN' or 'kirisame ctl --token TOKEN'. Exit codes: 0 done, 1 the file could not
        be written or the token to delete does not exist, 2 bad arguments.
        """;

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Any(a => a is "-h" or "--help"))
        {
            await stdout.WriteLineAsync(Usage);
            return KirisameCommand.ExitOk;
        }

        var delete = args.Count > 0 && args[0] == "-D";
        var positional = delete ? args.Skip(1).ToList() : [.. args];
        if (positional.Any(a => a.StartsWith('-')) || positional.Count != (delete ? 2 : 3))
            return await UsageErrorAsync(stderr, delete ? "Usage: kirisame token -D FILE NAME" : "Usage: kirisame token FILE NAME ROLE");
        var (file, name) = (positional[0], positional[1]);
        try
        {
            if (delete)
            {
                if (ApiTokenFile.Remove(file, name))
                    return KirisameCommand.ExitOk;
                await stderr.WriteLineAsync($"kirisame: {file} has no token '{name}'.");
                return KirisameCommand.ExitFailure;
            }

            if (!ManagementRoles.TryParse(positional[2], out var role))
                return await UsageErrorAsync(stderr, $"ROLE must be administrator, monitoring or viewer (was '{positional[2]}').");
            var token = ApiTokenFile.Create(file, name, role);
            await stdout.WriteLineAsync(token);
            return KirisameCommand.ExitOk;
        }
        catch (ArgumentException ex)
        {
            return await UsageErrorAsync(stderr, ex.Message);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await stderr.WriteLineAsync($"kirisame: cannot write {file}: {ex.Message}");
            return KirisameCommand.ExitFailure;
        }
    }

    private static async Task<int> UsageErrorAsync(TextWriter stderr, string message)
    {
        await stderr.WriteLineAsync($"kirisame: {message}");
        await stderr.WriteLineAsync("Run 'kirisame token --help' for usage.");
        return KirisameCommand.ExitUsage;
    }
}
