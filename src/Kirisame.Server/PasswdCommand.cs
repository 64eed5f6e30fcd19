using System.Text;
using Kirisame.Broker.Security;

namespace Kirisame.Server;

/// `kirisame passwd FILE USER`: adds or changes a user in a Mosquitto-format password file, writing a
/// PBKDF2-SHA512 ($7$) entry that Mosquitto can read too, or with --scram a $scram-sha256$ entry (SCRAM-SHA-256
/// enhanced authentication and plain logins; Mosquitto does not read it).
internal static class PasswdCommand
{
    public static async Task<int> RunAsync(PasswdArguments arguments, TextWriter stdout, TextWriter stderr)
    {
        if (arguments.Delete)
            return await DeleteAsync(arguments, stdout, stderr);
        var password = arguments.Password;
        if (password is null)
        {
            password = ReadSecret("Password: ");
            var again = ReadSecret("Reenter password: ");
            if (password is null || again is null)
            {
                await stderr.WriteLineAsync("kirisame: no password read.");
                return KirisameCommand.ExitFailure;
            }

            if (password != again)
            {
                await stderr.WriteLineAsync("kirisame: passwords do not match.");
                return KirisameCommand.ExitFailure;
            }
        }

        if (password.Length == 0)
        {
            await stderr.WriteLineAsync("kirisame: the password must not be empty.");
            return KirisameCommand.ExitUsage;
        }

        try
        {
            var bytes = Encoding.UTF8.GetBytes(password);
            var hash = arguments.Scram ? PasswordHash.CreateScramSha256(bytes, arguments.Iterations) : PasswordHash.Create(bytes, arguments.Iterations);
            PasswordFile.SetEntry(arguments.File, arguments.User, hash, replaceFile: arguments.Create);
        }
        catch (ArgumentException ex)
        {
            await stderr.WriteLineAsync($"kirisame: {ex.Message}");
            return KirisameCommand.ExitUsage;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await stderr.WriteLineAsync($"kirisame: cannot write {arguments.File}: {ex.Message}");
            return KirisameCommand.ExitFailure;
        }

        await stdout.WriteLineAsync($"Set the {(arguments.Scram ? "SCRAM-SHA-256 " : "")}password of '{arguments.User}' in {arguments.File}.");
        return KirisameCommand.ExitOk;
    }

    private static async Task<int> DeleteAsync(PasswdArguments arguments, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            if (!File.Exists(arguments.File) || !PasswordFile.RemoveEntry(arguments.File, arguments.User))
            {
                await stderr.WriteLineAsync($"kirisame: no user '{arguments.User}' in {arguments.File}.");
                return KirisameCommand.ExitFailure;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await stderr.WriteLineAsync($"kirisame: cannot write {arguments.File}: {ex.Message}");
            return KirisameCommand.ExitFailure;
        }

        await stdout.WriteLineAsync($"Deleted '{arguments.User}' from {arguments.File}.");
        return KirisameCommand.ExitOk;
    }

    /// From the terminal without echo; from redirected input, one line.
    private static string? ReadSecret(string prompt)
    {
        if (Console.IsInputRedirected)
            return Console.In.ReadLine();
        Console.Error.Write(prompt);
        var text = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
                break;
            if (key.Key == ConsoleKey.Backspace)
            {
                if (text.Length > 0)
                    text.Length--;
            }
            else if (!char.IsControl(key.KeyChar))
            {
                text.Append(key.KeyChar);
            }
        }

        Console.Error.WriteLine();
        return text.ToString();
    }
}
