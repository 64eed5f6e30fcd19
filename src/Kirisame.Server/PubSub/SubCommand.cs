using Kirisame.Client;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Server.PubSub;

/// `kirisame sub`: mosquitto_sub on Kirisame.Client. Subscribes to every -t filter and prints what arrives until
/// -C messages have been printed, -W seconds have passed (exit 27, as mosquitto_sub), the connection ends, or
/// Ctrl-C.
internal static class SubCommand
{
    /// mosquitto_sub's exit status when -W runs out.
    public const int ExitTimedOut = 27;

    public const string Usage = """
        kirisame sub — subscribe and print messages, as mosquitto_sub

        Usage: kirisame sub {[-h host] [-p port] [-u username [-P password]] -t topic … | -L URL}
                            [-q qos] [-C count] [-W timeout] [-v] [-F format] [-N] [-R]
                            [-i id] [-I id_prefix] [-k keepalive] [-c] [-x session-expiry]
                            [-V mqttv5|mqttv311] [-D connect identifier value]…
                            [--cafile file [--cert file --key file] [--insecure]] [-d] [--quiet]

         -t  a topic filter (repeat for more)   -q  QoS to subscribe with (default 0)
         -C  exit after this many messages      -W  exit after this many seconds (exit code 27)
         -v  print "topic payload"              -N  no end of line after each message
         -F  format: %t topic, %p payload, %q QoS, %r retain, %m message id, %l length, %x/%X hex,
             %I ISO 8601 time, %U Unix time, %j JSON, %C %R %D %E %F %P MQTT 5 properties,
             %% and @@, escapes \n \t \r \0 \a \e \v \\  (no widths, %A, %S, %J or @ time fields)
         -R  do not print retained messages     -c  keep the session (clean session off)
         -L, -h, -p, -u, -P, -i, -k, -V, -D, TLS and -d as in 'kirisame pub --help'

        Exit codes as mosquitto_sub: 0 done, 27 timed out (-W), the CONNACK code when the server refuses
        the connection, 1 any other error (arguments, network, every subscription refused).
        """;

    public static async Task<int> RunAsync(IReadOnlyList<string> args, Stream stdoutBytes, TextWriter stdout, TextWriter stderr)
    {
        var a = ClientArguments.Parse(args, subscriber: true);
        if (a.Help)
        {
            await stdout.WriteLineAsync(Usage);
            return KirisameCommand.ExitOk;
        }

        var errors = a.Errors;
        var options = errors.Count == 0 ? ClientSession.Options(a, "sub", errors) : null;
        var format = errors.Count == 0 ? OutputFormat.Create(a, errors) : null;
        if (errors.Count > 0)
            return ClientSession.Usage(errors, "sub", stderr);

        using var stop = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            var (client, exitCode) = await ClientSession.ConnectAsync(options!, a, stdout, stderr, stop.Token);
            if (client is null)
                return exitCode;
            await using var _ = client;
            return await ReceiveAsync(client, a, format!, stdoutBytes, stdout, stderr, stop.Token);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private static async Task<int> ReceiveAsync(MqttClient client, ClientArguments a, OutputFormat format, Stream output,
        TextWriter stdout, TextWriter stderr, CancellationToken stop)
    {
        IReadOnlyList<ReasonCode> granted;
        try
        {
            ClientSession.Debug(a, stdout, $"Client {client.ClientId} sending SUBSCRIBE ({string.Join(", ", a.Topics)}, QoS {(int)a.QoS})");
            granted = await client.SubscribeAsync([.. a.Topics.Select(t => new TopicSubscription(t, a.QoS))], cancellationToken: stop);
        }
        catch (Exception ex) when (ex is MqttClientException or OperationCanceledException)
        {
            ClientSession.Error(a, stderr, $"Error: {ex.Message}");
            return ClientSession.ExitError;
        }

        ClientSession.Debug(a, stdout, $"Client {client.ClientId} received SUBACK");
        await stdout.FlushAsync(stop);
        for (var i = 0; i < granted.Count; i++)
        {
            if ((byte)granted[i] >= 0x80)
                ClientSession.Error(a, stderr, $"Subscription to {a.Topics[i]} refused: {granted[i]} (0x{(byte)granted[i]:X2}).");
        }

        if (granted.All(g => (byte)g >= 0x80))
        {
            ClientSession.Error(a, stderr, "All subscription requests were denied.");
            return ClientSession.ExitError;
        }

        // mosquitto_sub's -W counts from the subscription's acknowledgement.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        if (a.Timeout is { } seconds)
            timeout.CancelAfter(TimeSpan.FromSeconds(seconds));
        var printed = 0;
        try
        {
            while (a.Count is not { } count || printed < count)
            {
                var message = await client.Messages.ReadAsync(timeout.Token);
                if (a.NoRetained && message.Retain)
                    continue;
                await output.WriteAsync(format.Render(message, DateTimeOffset.Now), timeout.Token);
                await output.FlushAsync(timeout.Token);
                printed++;
            }
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            ClientSession.Error(a, stderr, "Timed out");
            return ExitTimedOut;
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C: a normal end.
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            var why = await client.Disconnected;
            ClientSession.Error(a, stderr, $"Error: the connection ended: {why}");
            return ClientSession.ExitError;
        }

        await client.DisconnectAsync(cancellationToken: CancellationToken.None);
        return KirisameCommand.ExitOk;
    }
}
