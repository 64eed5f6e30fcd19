using System.Globalization;

namespace Kirisame.Client;

/// How a client reaches a server: plain TCP, TLS, WebSockets or WebSockets over TLS.
public enum MqttTransport
{
    Tcp,
    Tls,
    WebSocket,
    SecureWebSocket,
}

/// A server's address in URL form: <c>mqtt://</c> (or <c>tcp://</c>), <c>mqtts://</c> (or <c>ssl://</c>, <c>tls://</c>),
/// <c>ws://</c>, <c>wss://</c>, each with an optional <c>user:password@</c>, a host and a port; a WebSocket address
/// may end with a path. A bare <c>host:port</c> (or <c>host</c>) means <c>mqtt://host:port</c>.
/// Default ports: 1883, 8883, 80, 443; a WebSocket address without a path uses <c>/mqtt</c>.
public sealed record MqttServerAddress
{
    public const int DefaultTcpPort = 1883;
    public const int DefaultTlsPort = 8883;
    public const string DefaultWebSocketPath = "/mqtt";

    public MqttTransport Transport { get; init; }

    /// A host name or an IP address (without the brackets of an IPv6 literal).
    public string Host { get; init; } = "";

    public int Port { get; init; }

    /// The WebSocket request path; "" for TCP and TLS.
    public string Path { get; init; } = "";

    /// From the URL's user information, percent-decoded; null when the URL has none.
    public string? UserName { get; init; }

    public string? Password { get; init; }

    public bool UsesTls => Transport is MqttTransport.Tls or MqttTransport.SecureWebSocket;

    public bool UsesWebSocket => Transport is MqttTransport.WebSocket or MqttTransport.SecureWebSocket;

    /// Parses <paramref name="text"/>; throws <see cref="FormatException"/> saying what is wrong.
    public static MqttServerAddress Parse(string text) =>
        TryParse(text, out var address, out var error) ? address : throw new FormatException(error);

    /// Parses <paramref name="text"/>; on failure <paramref name="error"/> says what is wrong, for a message to a user.
    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MqttServerAddress? address, out string error)
    {
        address = null;
        error = "";
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "an empty server address";
            return false;
        }

        text = text.Trim();
        var withScheme = text.Contains("://", StringComparison.Ordinal) ? text : "mqtt://" + text;
        if (!Uri.TryCreate(withScheme, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
        {
            error = $"'{text}' is not a server address (expected e.g. mqtt://host:1883, mqtts://host, ws://host:8080/mqtt or host:port)";
            return false;
        }

        MqttTransport transport;
        switch (uri.Scheme.ToLowerInvariant())
        {
            case "mqtt" or "tcp":
                transport = MqttTransport.Tcp;
                break;
            case "mqtts" or "ssl" or "tls":
                transport = MqttTransport.Tls;
                break;
            case "ws":
                transport = MqttTransport.WebSocket;
                break;
            case "wss":
                transport = MqttTransport.SecureWebSocket;
                break;
            default:
                error = $"'{text}' has the scheme '{uri.Scheme}'; use mqtt://, mqtts://, ws:// or wss://";
                return false;
        }

        var webSocket = transport is MqttTransport.WebSocket or MqttTransport.SecureWebSocket;
        if ((!webSocket && uri.AbsolutePath is not ("/" or "")) || uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            error = $"'{text}' has a path, query or fragment, which only a ws:// or wss:// address may have (a path)";
            return false;
        }

        var port = uri.IsDefaultPort || uri.Port < 0 ? DefaultPort(transport) : uri.Port;
        if (port is < 1 or > 65535)
        {
            error = $"'{text}' has the port {port}; a port is 1-65535";
            return false;
        }

        string? user = null, password = null;
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            user = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            password = colon < 0 ? null : Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
        }

        address = new MqttServerAddress
        {
            Transport = transport,
            Host = uri.IdnHost,
            Port = port,
            Path = webSocket ? (uri.AbsolutePath is "/" or "" && !text.EndsWith('/') ? DefaultWebSocketPath : uri.AbsolutePath) : "",
            UserName = user,
            Password = password,
        };
        return true;
    }

    private static int DefaultPort(MqttTransport transport) => transport switch
    {
        MqttTransport.Tcp => DefaultTcpPort,
        MqttTransport.Tls => DefaultTlsPort,
        MqttTransport.WebSocket => 80,
        _ => 443,
    };

    /// The URL, without the password (for logs).
    public override string ToString()
    {
        var scheme = Transport switch
        {
            MqttTransport.Tcp => "mqtt",
            MqttTransport.Tls => "mqtts",
            MqttTransport.WebSocket => "ws",
            _ => "wss",
        };
        var host = Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host;
        var user = UserName is null ? "" : Uri.EscapeDataString(UserName) + "@";
        return $"{scheme}://{user}{host}:{Port.ToString(CultureInfo.InvariantCulture)}{Path}";
    }
}
