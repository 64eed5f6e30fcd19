using Kirisame.Bench;
using Kirisame.Bench.Reporting;

namespace Kirisame.Server;

/// `kirisame bench`: parse, run the load generator (Kirisame.Bench), print. No load logic here.
internal static class BenchCommand
{
    private const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

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

        if (arguments.NullForwarder)
            return await ServeNullForwarderAsync(arguments.Options, stdout, stderr);

        // Socket completions run on the socket engine's thread instead of hopping to the thread pool: a broker
        // that sends one small TCP segment per message (Mosquitto does) would otherwise cost the generator a
        // thread wake-up per message, and the generator, not the broker, would set the pace. Read when the
        // first socket is made, so it must be set before; an explicit setting in the environment wins.
        if (Environment.GetEnvironmentVariable(InlineCompletions) is null)
            Environment.SetEnvironmentVariable(InlineCompletions, "1");

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

    /// Listens until Ctrl-C or SIGTERM; says where once it does.
    private static async Task<int> ServeNullForwarderAsync(BenchOptions options, TextWriter stdout, TextWriter stderr)
    {
        if (!System.Net.IPAddress.TryParse(options.Host, out var address))
        {
            await stderr.WriteLineAsync($"kirisame bench: --null-forwarder needs an IP address for --host, not '{options.Host}'.");
            return KirisameCommand.ExitUsage;
        }

        NullForwarder forwarder;
        try
        {
            forwarder = new NullForwarder(new System.Net.IPEndPoint(address, options.Port));
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException or PlatformNotSupportedException)
        {
            await stderr.WriteLineAsync($"kirisame bench: the null forwarder cannot start: {ex.Message}");
            return KirisameCommand.ExitFailure;
        }

        using (forwarder)
        {
            using var stop = new CancellationTokenSource();
            using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                stop.Cancel();
            });
            using var interrupt = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, context =>
            {
                context.Cancel = true;
                stop.Cancel();
            });
            await stdout.WriteLineAsync($"kirisame bench: null forwarder listening on {forwarder.EndPoint}");
            await stdout.FlushAsync();
            await Task.Factory.StartNew(() => forwarder.Run(stop.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        return KirisameCommand.ExitOk;
    }
}
