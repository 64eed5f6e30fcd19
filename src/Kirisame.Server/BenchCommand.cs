using Kirisame.Bench;
using Kirisame.Bench.Reporting;

namespace Kirisame.Server;

/// `kirisame bench`: parse, run the load generator (Kirisame.Bench), print. No load logic here.
internal static class BenchCommand
{
    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var arguments = BenchArguments.Parse(args);
        if (arguments.Help)
        {
            await stdout.WriteLineAsync(BenchArguments.Usage);
            return KirisameCommand.ExitOk;
        }
        if (arguments.Errors.Count > 0)
        {
            foreach (var error in arguments.Errors)
                await stderr.WriteLineAsync($"kirisame bench: {error}");
            await stderr.WriteLineAsync("Run 'kirisame bench --help' for usage.");
            return KirisameCommand.ExitUsage;
        }

        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            var result = await BenchRunner.RunAsync(arguments.Options, cancel.Token);
            await stdout.WriteAsync(arguments.Json ? BenchReport.ToJson(result) + Environment.NewLine : BenchReport.ToText(result));
            return result.IsClean ? KirisameCommand.ExitOk : KirisameCommand.ExitFailure;
        }
        catch (OperationCanceledException)
        {
            await stderr.WriteLineAsync("kirisame bench: interrupted.");
            return KirisameCommand.ExitFailure;
        }
        catch (Exception ex) when (ex is BenchException or System.Net.Sockets.SocketException or IOException)
        {
            await stderr.WriteLineAsync($"kirisame bench: {ex.Message}");
            return KirisameCommand.ExitFailure;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
