using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Kirisame.Server.Logging;

/// Syslog (`Logging:Syslog:Address`): one RFC 5424 message per entry, as a datagram to the local syslog socket
/// (a path such as /dev/log, which rsyslog, syslog-ng and journald read) or to a syslog server over UDP
/// (`udp://host:port`, port 514 by default). `Logging:Syslog:Facility` is the facility (daemon by default).
/// Datagrams are not acknowledged: a server that is down loses what is sent meanwhile, as with every syslog over
/// UDP; a socket that refuses a send is counted by the queue as a drop would be, never retried.
[ProviderAlias("Syslog")]
internal sealed class SyslogLoggerProvider : QueuedLoggerProvider
{
    public const string AddressKey = "Logging:Syslog:Address";
    public const string FacilityKey = "Logging:Syslog:Facility";

    /// RFC 5424 section 6.2.1's facilities by their usual names.
    private static readonly Dictionary<string, int> s_facilities = new(StringComparer.OrdinalIgnoreCase)
    {
        ["kern"] = 0, ["user"] = 1, ["mail"] = 2, ["daemon"] = 3, ["auth"] = 4, ["syslog"] = 5, ["lpr"] = 6, ["news"] = 7,
        ["uucp"] = 8, ["cron"] = 9, ["authpriv"] = 10, ["ftp"] = 11,
        ["local0"] = 16, ["local1"] = 17, ["local2"] = 18, ["local3"] = 19, ["local4"] = 20, ["local5"] = 21, ["local6"] = 22, ["local7"] = 23,
    };

    /// Bytes of a datagram at most: what every syslog receiver takes over UDP (RFC 5426 recommends 2048 be
    /// accepted); longer entries are cut.
    private const int MaxDatagram = 2048;

    private readonly Socket _socket;
    private readonly int _facility;
    private readonly string _header; // " HOSTNAME APP-NAME PROCID"

    private SyslogLoggerProvider(Socket socket, int facility)
    {
        _socket = socket;
        _facility = facility;
        _header = $" {Dns.GetHostName()} kirisame {Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}";
        Start();
    }

    /// Opens the target, or says what is wrong with the settings (naming the key).
    public static SyslogLoggerProvider? Open(string address, string? facilityName, out string? error)
    {
        error = null;
        var facility = 3;
        if (facilityName is not null && !s_facilities.TryGetValue(facilityName, out facility))
        {
            error = $"{FacilityKey}: '{facilityName}' is not a syslog facility ({string.Join(", ", s_facilities.Keys)}).";
            return null;
        }

        Socket? socket = null;
        try
        {
            if (address.StartsWith("udp://", StringComparison.OrdinalIgnoreCase))
            {
                if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Host.Length == 0 || uri.AbsolutePath is not ("" or "/"))
                {
                    error = $"{AddressKey}: '{address}' is not udp://host[:port].";
                    return null;
                }

                var port = uri.IsDefaultPort || uri.Port < 0 ? 514 : uri.Port;
                var host = uri.Host.Trim('[', ']');
                var ip = IPAddress.TryParse(host, out var parsed) ? parsed : Dns.GetHostAddresses(host).First();
                socket = new Socket(ip.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                socket.Connect(new IPEndPoint(ip, port));
            }
            else if (address.StartsWith('/'))
            {
                socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
                socket.Connect(new UnixDomainSocketEndPoint(address));
            }
            else
            {
                error = $"{AddressKey}: '{address}' is neither the path of a local syslog socket (such as /dev/log) nor udp://host[:port].";
                return null;
            }

            return new SyslogLoggerProvider(socket, facility);
        }
        catch (Exception ex) when (ex is SocketException or ArgumentException or InvalidOperationException)
        {
            socket?.Dispose();
            error = $"{AddressKey}: cannot send to '{address}': {ex.Message}";
            return null;
        }
    }

    /// RFC 5424 section 6: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG`, with the category
    /// at the start of MSG (MSGID is at most 32 characters; categories are longer).
    protected override string Format(DateTimeOffset time, LogLevel level, string category, string message, Exception? exception)
    {
        var priority = _facility * 8 + Severity(level);
        var text = exception is null ? message : $"{message} ({exception.GetType().Name}: {exception.Message})";
        return $"<{priority.ToString(CultureInfo.InvariantCulture)}>1 {time.ToUniversalTime():yyyy-MM-dd'T'HH:mm:ss.fff'Z'}{_header} - - {category}: {text.ReplaceLineEndings(" ")}";
    }

    /// RFC 5424 section 6.2.1's severities.
    private static int Severity(LogLevel level) => level switch
    {
        LogLevel.Critical => 2,
        LogLevel.Error => 3,
        LogLevel.Warning => 4,
        LogLevel.Information => 6,
        _ => 7,
    };

    protected override async ValueTask WriteAsync(string entry)
    {
        var bytes = Encoding.UTF8.GetBytes(entry);
        try
        {
            await _socket.SendAsync(bytes.AsMemory(0, Math.Min(bytes.Length, MaxDatagram)), SocketFlags.None);
        }
        catch (SocketException ex)
        {
            // Nowhere to say so but standard error: the receiver is gone or refuses (ECONNREFUSED over UDP).
            Debug.WriteLine($"syslog send failed: {ex.Message}");
        }
    }

    protected override void Close() => _socket.Dispose();
}
