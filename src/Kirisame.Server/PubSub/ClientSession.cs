using System.Globalization;
using System.Text;
using Kirisame.Client;
using Kirisame.Protocol;
using Kirisame.Protocol.Properties;

namespace Kirisame.Server.PubSub;

/// What `kirisame pub` and `kirisame sub` share: turning their arguments into a connection, the -D properties,
/// debug lines, and exit codes as Mosquitto's clients have them: 0 success, the CONNACK code when the server
/// refuses the connection (3.1.1 return code or 5.0 reason code), 1 for any other error (usage, network, TLS).
internal static class ClientSession
{
    public const int ExitError = 1;

    public static MqttClientOptions Options(ClientArguments a, string name, List<string> errors)
    {
        MqttServerAddress? server;
        if (a.Url is { } url)
        {
            var webSocket = url.StartsWith("ws", StringComparison.OrdinalIgnoreCase);
            if (!MqttServerAddress.TryParse(webSocket ? url + MqttServerAddress.DefaultWebSocketPath : url, out server, out var error))
                errors.Add($"Invalid URL for -L argument specified: {error}.");
        }
        else
        {
            var tls = a.CaFile is not null || a.Insecure;
            var port = a.Port ?? (tls ? MqttServerAddress.DefaultTlsPort : MqttServerAddress.DefaultTcpPort);
            var host = a.Host.Contains(':', StringComparison.Ordinal) && !a.Host.StartsWith('[') ? $"[{a.Host}]" : a.Host;
            if (!MqttServerAddress.TryParse($"{(tls ? "mqtts" : "mqtt")}://{host}:{port}", out server, out var error))
                errors.Add($"Invalid host: {error}.");
        }

        var connectProperties = new MqttProperties();
        foreach (var (command, property, values) in a.Properties)
        {
            if (command == "connect")
                Apply(connectProperties, property, values, command, errors);
            else if (command != "publish")
                errors.Add($"-D {command}: only connect and publish properties are supported.");
        }

        var clientId = a.ClientId ?? $"{a.IdPrefix ?? $"kirisame_{name}_"}{Environment.ProcessId}";
        return new MqttClientOptions
        {
            Server = server ?? new MqttServerAddress { Host = "localhost" },
            ProtocolVersion = a.Version,
            ClientId = clientId,
            CleanStart = a.CleanSession,
            KeepAlive = TimeSpan.FromSeconds(a.KeepAlive),
            UserName = a.UserName ?? server?.UserName,
            Password = (a.Password ?? server?.Password) is { } password ? Encoding.UTF8.GetBytes(password) : null,
            // mosquitto_pub -c: "sessions will never expire"; -x sets it (MQTT 5).
            SessionExpiryInterval = a.SessionExpiry ?? (a.CleanSession ? 0u : uint.MaxValue),
            ConnectProperties = connectProperties.IsEmpty ? null : connectProperties,
            Tls = new MqttTlsOptions { CaFile = a.CaFile, CertificateFile = a.CertFile, KeyFile = a.KeyFile, Insecure = a.Insecure },
        };
    }

    /// The -D publish properties (MQTT 5 only: with 3.1.1 they are ignored, as mosquitto_pub does).
    public static MqttProperties PublishProperties(ClientArguments a, List<string> errors)
    {
        var properties = new MqttProperties();
        foreach (var (command, property, values) in a.Properties)
        {
            if (command == "publish")
                Apply(properties, property, values, command, errors);
        }

        return properties;
    }

    private static void Apply(MqttProperties target, string property, string[] values, string command, List<string> errors)
    {
        var value = values[0];
        switch (property)
        {
            case "user-property":
                target.AddUserProperty(values[0], values[1]);
                return;
            case "content-type" when command == "publish":
                target.ContentType = value;
                return;
            case "response-topic" when command == "publish":
                target.ResponseTopic = value;
                return;
            case "correlation-data" when command == "publish":
                target.CorrelationData = Encoding.UTF8.GetBytes(value);
                return;
            case "message-expiry-interval" when command == "publish" && uint.TryParse(value, CultureInfo.InvariantCulture, out var expiry):
                target.MessageExpiryInterval = expiry;
                return;
            case "payload-format-indicator" when command == "publish" && byte.TryParse(value, CultureInfo.InvariantCulture, out var format):
                target.PayloadFormatIndicator = format;
                return;
            case "session-expiry-interval" when command == "connect" && uint.TryParse(value, CultureInfo.InvariantCulture, out var session):
                target.SessionExpiryInterval = session;
                return;
            case "receive-maximum" when command == "connect" && ushort.TryParse(value, CultureInfo.InvariantCulture, out var receive):
                target.ReceiveMaximum = receive;
                return;
            default:
                errors.Add($"-D {command} {property} {string.Join(' ', values)}: not a supported property or value (publish: user-property, content-type, "
                    + "response-topic, correlation-data, message-expiry-interval, payload-format-indicator; connect: user-property, "
                    + "session-expiry-interval, receive-maximum).");
                return;
        }
    }

    /// Connects; on failure writes Mosquitto's kind of message and returns the exit code.
    public static async Task<(MqttClient? Client, int ExitCode)> ConnectAsync(MqttClientOptions options, ClientArguments a, TextWriter stdout,
        TextWriter stderr, CancellationToken cancellationToken)
    {
        Debug(a, stdout, $"Client {options.ClientId} sending CONNECT");
        try
        {
            var client = await MqttClient.ConnectAsync(options, cancellationToken);
            Debug(a, stdout, $"Client {client.ClientId} received CONNACK (0)");
            return (client, KirisameCommand.ExitOk);
        }
        catch (MqttConnectException refused)
        {
            // mosquitto_pub/mosquitto_sub exit with the CONNACK's code: 5 not authorised (3.1.1), 135 (5.0).
            var code = refused.ReturnCode is { } returnCode ? (int)returnCode : (int)refused.Reason;
            Error(a, stderr, $"Connection error: Connection Refused: {refused.Message}");
            return (null, code);
        }
        catch (Exception ex) when (ex is MqttClientException or IOException or UnauthorizedAccessException
            or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            Error(a, stderr, $"Error: {ex.Message}");
            return (null, ExitError);
        }
    }

    /// -d: what the client does, on stdout as mosquitto_pub/mosquitto_sub print it.
    public static void Debug(ClientArguments a, TextWriter stdout, string line)
    {
        if (a.Debug)
            stdout.WriteLine(line);
    }

    public static void Error(ClientArguments a, TextWriter stderr, string line)
    {
        if (!a.Quiet)
            stderr.WriteLine(line);
    }

    /// Bad arguments: the errors and the pointer to --help, exit 1 (mosquitto_pub's status for them).
    public static int Usage(IEnumerable<string> errors, string command, TextWriter stderr)
    {
        foreach (var error in errors)
            stderr.WriteLine($"Error: {error}");
        stderr.WriteLine($"Use 'kirisame {command} --help' to see usage.");
        return ExitError;
    }
}
