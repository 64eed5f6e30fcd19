using System.Text;
using Kirisame.Client;
using Kirisame.Protocol;
using Kirisame.Protocol.Packets;

namespace Kirisame.Server.PubSub;

/// `kirisame pub`: mosquitto_pub on Kirisame.Client. Connects, publishes the message (or each line of stdin with
/// -l), waits for QoS 1/2 acknowledgements, disconnects.
internal static class PubCommand
{
    public const string Usage = """
        kirisame pub — publish one message (or one per line of stdin), as mosquitto_pub

        Usage: kirisame pub {[-h host] [-p port] [-u username [-P password]] -t topic | -L URL}
                            {-m message | -f file | -l | -n | -s}
                            [-q qos] [-r] [-i id] [-I id_prefix] [-k keepalive] [-c] [-x session-expiry]
                            [-V mqttv5|mqttv311] [-D command identifier value]…
                            [--cafile file [--cert file --key file] [--insecure]] [-d] [--quiet]

         -h  host (default localhost)           -p  port (default 1883; 8883 with --cafile)
         -t  topic                              -L  mqtt(s)://[user[:password]@]host[:port]/topic,
                                                    or ws(s)://… (WebSocket path /mqtt)
         -m  the message                        -f  send a file's contents
         -l  one message per line of stdin      -n  a zero-length message
         -s  all of stdin as one message        -q  QoS 0, 1 or 2 (default 0)
         -r  retain                             -i  client id (default kirisame_pub_PID)
         -u, -P  user name and password         -k  keep-alive seconds (default 60)
         -V  mqttv5 (or 5), mqttv311 (or 311; the default)
         -D  an MQTT 5 property: -D publish user-property NAME VALUE, -D publish content-type T,
             response-topic, correlation-data, message-expiry-interval, payload-format-indicator;
             -D connect user-property|session-expiry-interval|receive-maximum
         --cafile, --cert, --key, --insecure    TLS (PEM files; --insecure skips the server's name check)
         -d  debug lines                        --quiet  no error messages

        Exit codes as mosquitto_pub: 0 sent, the CONNACK code when the server refuses the connection
        (e.g. 5 not authorised, 135 with MQTT 5), 1 any other error (arguments, network, a refused publish).
        """;

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextReader stdin, TextWriter stdout, TextWriter stderr)
    {
        var a = ClientArguments.Parse(args, subscriber: false);
        if (a.Help)
        {
            await stdout.WriteLineAsync(Usage);
            return KirisameCommand.ExitOk;
        }

        var errors = a.Errors;
        var options = errors.Count == 0 ? ClientSession.Options(a, "pub", errors) : null;
        var properties = errors.Count == 0 ? PublishProperties.From(ClientSession.PublishProperties(a, errors)) : default;
        byte[]? payload = null;
        if (errors.Count == 0 && a.Source != MessageSource.Lines)
            payload = await ReadPayloadAsync(a, errors);
        if (errors.Count > 0)
            return ClientSession.Usage(errors, "pub", stderr);

        using var cancel = new CancellationTokenSource();
        var (client, exitCode) = await ClientSession.ConnectAsync(options!, a, stdout, stderr, cancel.Token);
        if (client is null)
            return exitCode;
        await using var _ = client;
        // With 3.1.1 the -D properties are dropped, as mosquitto_pub does.
        if (client.ProtocolVersion != ProtocolVersion.V500)
            properties = default;
        try
        {
            if (payload is not null)
                exitCode = await PublishAsync(client, a, payload, properties, stdout, stderr);
            else
            {
                while (await stdin.ReadLineAsync() is { } line && exitCode == KirisameCommand.ExitOk)
                    exitCode = await PublishAsync(client, a, Encoding.UTF8.GetBytes(line), properties, stdout, stderr);
            }

            await client.DisconnectAsync();
            return exitCode;
        }
        catch (MqttClientException ex)
        {
            ClientSession.Error(a, stderr, $"Error: {ex.Message}");
            return ClientSession.ExitError;
        }
    }

    private static async Task<int> PublishAsync(MqttClient client, ClientArguments a, byte[] payload, PublishProperties properties,
        TextWriter stdout, TextWriter stderr)
    {
        ClientSession.Debug(a, stdout, $"Client {client.ClientId} sending PUBLISH (d0, q{(int)a.QoS}, r{(a.Retain ? 1 : 0)}, '{a.Topics[0]}', ... ({payload.Length} bytes))");
        var reason = await client.PublishAsync(a.Topics[0], payload, a.QoS, a.Retain, properties);
        if ((byte)reason < 0x80)
            return KirisameCommand.ExitOk;
        ClientSession.Error(a, stderr, $"Warning: Publish failed: {reason} (0x{(byte)reason:X2}).");
        return ClientSession.ExitError;
    }

    private static async Task<byte[]?> ReadPayloadAsync(ClientArguments a, List<string> errors)
    {
        switch (a.Source)
        {
            case MessageSource.Message:
                return Encoding.UTF8.GetBytes(a.Message!);
            case MessageSource.Null:
                return [];
            case MessageSource.Stdin:
                // Bytes as they are (a binary file piped in), not through a text reader.
                var all = new MemoryStream();
                await using (var input = Console.OpenStandardInput())
                    await input.CopyToAsync(all);
                return all.ToArray();
            default:
                try
                {
                    return await File.ReadAllBytesAsync(a.Message!);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    errors.Add($"Unable to read file \"{a.Message}\": {ex.Message}");
                    return null;
                }
        }
    }
}
