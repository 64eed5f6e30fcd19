using System.Globalization;
using Kirisame.Protocol;

namespace Kirisame.Server.PubSub;

/// Where `kirisame pub` takes its message from: -m, -f, -l (one message per line of stdin), -n, -s (all of stdin).
internal enum MessageSource
{
    None,
    Message,
    File,
    Lines,
    Null,
    Stdin,
}

/// The command line of `kirisame pub` and `kirisame sub`: mosquitto_pub's and mosquitto_sub's flags, with their
/// meanings and defaults (checked against mosquitto 2.0.11). Bad arguments are errors worded as theirs.
internal sealed class ClientArguments
{
    public bool Subscriber { get; private init; }

    public bool Help { get; private set; }

    public string Host { get; set; } = "localhost";

    /// Unset: 1883, or 8883 with TLS (--cafile or mqtts://), as Mosquitto's clients.
    public int? Port { get; set; }

    public List<string> Topics { get; } = [];

    public MessageSource Source { get; private set; }

    public string? Message { get; private set; }

    public QualityOfService QoS { get; private set; }

    public bool Retain { get; private set; }

    public string? ClientId { get; private set; }

    public string? IdPrefix { get; private set; }

    public string? UserName { get; set; }

    public string? Password { get; set; }

    public int KeepAlive { get; private set; } = 60;

    /// mosquitto_pub and mosquitto_sub default to MQTT 3.1.1.
    public ProtocolVersion Version { get; private set; } = ProtocolVersion.V311;

    public bool CleanSession { get; private set; } = true;

    public uint? SessionExpiry { get; private set; }

    public string? CaFile { get; private set; }

    public string? CertFile { get; private set; }

    public string? KeyFile { get; private set; }

    public bool Insecure { get; private set; }

    /// -L: mqtt(s)://[user[:password]@]host[:port]/topic, and ws(s):// likewise (the WebSocket path is /mqtt).
    public string? Url { get; private set; }

    public bool Debug { get; private set; }

    public bool Quiet { get; private set; }

    public int? Count { get; private set; }

    public int? Timeout { get; private set; }

    public bool Verbose { get; private set; }

    public string? Format { get; private set; }

    public bool NoEndOfLine { get; private set; }

    public bool NoRetained { get; private set; }

    /// -D command identifier value [value]: (command, identifier, values).
    public List<(string Command, string Name, string[] Values)> Properties { get; } = [];

    public List<string> Errors { get; } = [];

    public static ClientArguments Parse(IReadOnlyList<string> args, bool subscriber)
    {
        var result = new ClientArguments { Subscriber = subscriber };
        for (var i = 0; i < args.Count && result.Errors.Count == 0; i++)
            result.ParseOne(args, ref i);
        if (result.Help || result.Errors.Count > 0)
            return result;
        if (result.Url is not null)
            result.ApplyUrl();
        if (result.Errors.Count == 0)
            result.Check();
        return result;
    }

    private void ParseOne(IReadOnlyList<string> args, ref int i)
    {
        var flag = args[i];
        string Value(ref int at)
        {
            if (at + 1 < args.Count)
                return args[++at];
            Errors.Add($"{flag} argument given but no value specified.");
            return "";
        }

        int Int(ref int at, int minimum, int maximum, string what)
        {
            var text = Value(ref at);
            if (Errors.Count == 0 && (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) || n < minimum || n > maximum))
                Errors.Add($"Invalid {what} given: {text}");
            return int.TryParse(text, CultureInfo.InvariantCulture, out var v) ? v : 0;
        }

        switch (flag)
        {
            case "--help":
                Help = true;
                break;
            case "-h" or "--host":
                Host = Value(ref i);
                break;
            case "-p" or "--port":
                Port = Int(ref i, 1, 65535, "port");
                break;
            case "-t" or "--topic":
                Topics.Add(Value(ref i));
                break;
            case "-q" or "--qos":
                QoS = (QualityOfService)Int(ref i, 0, 2, "QoS");
                break;
            case "-i" or "--id":
                ClientId = Value(ref i);
                break;
            case "-I" or "--id-prefix":
                IdPrefix = Value(ref i);
                break;
            case "-u" or "--username":
                UserName = Value(ref i);
                break;
            case "-P" or "--pw":
                Password = Value(ref i);
                break;
            case "-k" or "--keepalive":
                KeepAlive = Int(ref i, 0, 65535, "keepalive");
                break;
            case "-V" or "--protocol-version":
                Version = Value(ref i) switch
                {
                    "mqttv5" or "5" => ProtocolVersion.V500,
                    "mqttv311" or "311" => ProtocolVersion.V311,
                    "mqttv31" or "31" => Invalid("MQTT 3.1 (mqttv31) is not supported: use mqttv311 or mqttv5."),
                    var other => Invalid($"Invalid protocol version '{other}' given (mqttv5 or mqttv311)."),
                };
                break;
            case "-c" or "--disable-clean-session":
                CleanSession = false;
                break;
            case "-x":
                var expiry = Value(ref i);
                if (expiry is "-1" or "∞")
                    SessionExpiry = uint.MaxValue;
                else if (uint.TryParse(expiry, CultureInfo.InvariantCulture, out var seconds))
                    SessionExpiry = seconds;
                else
                    Errors.Add($"Invalid session-expiry-interval '{expiry}'.");
                break;
            case "--cafile":
                CaFile = Value(ref i);
                break;
            case "--cert":
                CertFile = Value(ref i);
                break;
            case "--key":
                KeyFile = Value(ref i);
                break;
            case "--insecure":
                Insecure = true;
                break;
            case "-L" or "--url":
                Url = Value(ref i);
                break;
            case "-d" or "--debug":
                Debug = true;
                break;
            case "--quiet":
                Quiet = true;
                break;
            case "-D" or "--property":
                ParseProperty(args, ref i);
                break;
            default:
                if (Subscriber ? !ParseSubscriberFlag(flag, ref i, Value, Int) : !ParsePublisherFlag(flag, ref i, Value))
                    Errors.Add($"Unknown option '{flag}'.");
                break;
        }
    }

    private delegate string ValueReader(ref int at);

    private delegate int IntReader(ref int at, int minimum, int maximum, string what);

    private bool ParsePublisherFlag(string flag, ref int i, ValueReader value)
    {
        var source = flag switch
        {
            "-m" or "--message" => MessageSource.Message,
            "-f" or "--file" => MessageSource.File,
            "-l" or "--stdin-line" => MessageSource.Lines,
            "-n" or "--null-message" => MessageSource.Null,
            "-s" or "--stdin-file" => MessageSource.Stdin,
            _ => MessageSource.None,
        };
        if (source != MessageSource.None)
        {
            if (Source != MessageSource.None)
                Errors.Add("Only one type of message can be sent at once.");
            Source = source;
            if (source is MessageSource.Message or MessageSource.File)
                Message = value(ref i);
            return true;
        }

        if (flag is "-r" or "--retain")
        {
            Retain = true;
            return true;
        }

        return false;
    }

    private bool ParseSubscriberFlag(string flag, ref int i, ValueReader value, IntReader number)
    {
        switch (flag)
        {
            case "-C":
                Count = number(ref i, 1, int.MaxValue, "message count");
                return true;
            case "-W":
                Timeout = number(ref i, 1, 3600, "timeout");
                return true;
            case "-v" or "--verbose":
                Verbose = true;
                return true;
            case "-F":
                Format = value(ref i);
                return true;
            case "-N":
                NoEndOfLine = true;
                return true;
            case "-R":
                NoRetained = true;
                return true;
            default:
                return false;
        }
    }

    private void ParseProperty(IReadOnlyList<string> args, ref int i)
    {
        // user-property takes a name and a value; every other property one value.
        if (i + 3 >= args.Count)
        {
            Errors.Add("-D argument given but not enough values specified (-D command identifier value).");
            return;
        }

        var command = args[i + 1];
        var name = args[i + 2];
        var count = name == "user-property" ? 2 : 1;
        if (i + 2 + count >= args.Count)
        {
            Errors.Add($"-D {command} {name} needs {count} value(s).");
            return;
        }

        Properties.Add((command, name, [.. args.Skip(i + 3).Take(count)]));
        i += 2 + count;
    }

    private ProtocolVersion Invalid(string error)
    {
        Errors.Add(error);
        return ProtocolVersion.V311;
    }

    /// -L: the path is the topic (Mosquitto's form); for ws:// and wss:// the WebSocket path stays /mqtt.
    private void ApplyUrl()
    {
        var url = Url!;
        var scheme = url.IndexOf("://", StringComparison.Ordinal);
        var slash = scheme < 0 ? -1 : url.IndexOf('/', scheme + 3);
        if (scheme < 0 || slash < 0 || slash == url.Length - 1)
        {
            Errors.Add($"Invalid URL for -L argument specified - topic missing ('{url}': expected e.g. mqtt://user:password@host:1883/topic).");
            return;
        }

        Topics.Add(Uri.UnescapeDataString(url[(slash + 1)..]));
        Url = url[..slash];
    }

    private void Check()
    {
        if (Topics.Count == 0)
            Errors.Add(Subscriber ? "You must specify a topic to subscribe to." : "Both topic and message must be supplied.");
        else if (!Subscriber && Source == MessageSource.None)
            Errors.Add("Both topic and message must be supplied.");
        else if (!Subscriber && Topics.Count > 1)
            Errors.Add("Only one topic can be given.");
        foreach (var topic in Topics)
        {
            var invalid = Subscriber ? Protocol.Topics.TopicRules.ValidateTopicFilter(topic) : Protocol.Topics.TopicRules.ValidateTopicName(topic);
            if (invalid != DecodeError.None)
                Errors.Add(Subscriber ? $"Invalid subscription topic '{topic}', are all '+' and '#' wildcards correct?"
                    : $"Invalid publish topic '{topic}', does it contain '+' or '#'?");
        }

        if ((CertFile is null) != (KeyFile is null))
            Errors.Add("Both certfile and keyfile must be provided if one of them is set.");
        if (Password is not null && UserName is null && Url is null)
            Errors.Add("Cannot use a password without a username.");
    }
}
