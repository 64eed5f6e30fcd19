namespace Kirisame.Server.Ctl;

/// `kirisame ctl [options] NOUN [VERB] [ARGS] [options]`, parsed: where the API is, who is asking, how to
/// print, the words, and the named options of the command (filters, paging, QoS).
internal sealed class CtlArguments
{
    public const string DefaultUrl = "http://127.0.0.1:8081";

    /// Options that take a value, and the flags (true when present).
    private static readonly HashSet<string> s_valued = ["url", "token", "user", "cafile", "id", "user-name", "address", "listener", "filter",
        "client", "limit", "offset", "qos", "connected", "timeout", "category", "tenant"];

    private static readonly HashSet<string> s_flags = ["json", "retain", "help"];

    public string Url { get; private set; } = DefaultUrl;

    public string? Token { get; private set; }

    public string? User { get; private set; }

    /// PEM CA the management listener's certificate must chain to (HTTPS with a private CA).
    public string? CaFile { get; private set; }

    public bool Json { get; private set; }

    public bool Help { get; private set; }

    public TimeSpan Timeout { get; private set; } = TimeSpan.FromSeconds(30);

    /// The words: NOUN [VERB] [ARGS…].
    public List<string> Words { get; } = [];

    /// Command options by name (filters, paging, QoS), as given.
    public Dictionary<string, string> Options { get; } = new(StringComparer.Ordinal);

    public List<string> Errors { get; } = [];

    private bool _tokenGiven;
    private bool _userGiven;

    /// <paramref name="environment"/>: KIRISAME_URL, KIRISAME_TOKEN, KIRISAME_USER, as defaults for the options.
    public static CtlArguments Parse(IReadOnlyList<string> args, Func<string, string?> environment)
    {
        var result = new CtlArguments
        {
            Url = environment("KIRISAME_URL") is { Length: > 0 } url ? url : DefaultUrl,
            Token = environment("KIRISAME_TOKEN") is { Length: > 0 } token ? token : null,
            User = environment("KIRISAME_USER") is { Length: > 0 } user ? user : null,
        };
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "-h")
                arg = "--help";
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                result.Words.Add(arg);
                continue;
            }

            var name = arg[2..];
            string? value = null;
            if (name.IndexOf('=', StringComparison.Ordinal) is var equals and >= 0)
                (name, value) = (name[..equals], name[(equals + 1)..]);
            if (s_flags.Contains(name))
            {
                if (value is not null)
                    result.Errors.Add($"--{name} takes no value.");
                result.SetFlag(name);
            }
            else if (s_valued.Contains(name))
            {
                if (value is null && i + 1 < args.Count)
                    value = args[++i];
                if (value is null)
                    result.Errors.Add($"Option '--{name}' needs a value.");
                else
                    result.Set(name, value);
            }
            else
            {
                result.Errors.Add($"Unknown option '--{name}'.");
            }
        }

        if (result._tokenGiven && result._userGiven)
            result.Errors.Add("Give --token or --user, not both.");
        if (!Uri.TryCreate(result.Url, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https"))
            result.Errors.Add($"--url must be an http:// or https:// URL (was '{result.Url}').");
        return result;
    }

    private void SetFlag(string name)
    {
        switch (name)
        {
            case "json": Json = true; break;
            case "help": Help = true; break;
            default: Options[name] = "true"; break;
        }
    }

    private void Set(string name, string value)
    {
        switch (name)
        {
            case "url": Url = value.TrimEnd('/'); break;
            case "token": (Token, User, _tokenGiven) = (value, null, true); break;
            case "user": (User, Token, _userGiven) = (value, null, true); break;
            case "cafile": CaFile = value; break;
            case "timeout":
                if (double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds > 0)
                    Timeout = TimeSpan.FromSeconds(seconds);
                else
                    Errors.Add($"--timeout must be a number of seconds above 0 (was '{value}').");
                break;
            default: Options[name] = value; break;
        }
    }
}
