using Kirisame.Management;
using Kirisame.Transport.Listeners;
using Kirisame.Transport.Live;

namespace Kirisame.Server;

/// The management API's listener changes (ADR 0019), turned into the transport's: a request becomes
/// ListenerOptions (validated as Listeners:NAME would be), and the clients of an added listener get the
/// authentication and ACL of a configured one — by default the first, as listeners added at run time have no
/// security section of their own.
internal sealed class LiveListenerAdministration(LiveListeners live, IReadOnlyList<ListenerSecurity> configured) : IListenerAdmin
{
    public async Task<ListenerResult> AddAsync(ListenerRequest request)
    {
        var errors = new List<string>();
        var options = new ListenerOptions
        {
            Name = request.Name!,
            Protocol = Parse(request.Protocol, ListenerProtocol.Mqtt, "protocol", errors),
            Port = request.Port,
            BindAddress = request.BindAddress ?? "127.0.0.1",
            Certificate = request.Certificate,
            PrivateKey = request.PrivateKey,
            CertificatePassword = request.CertificatePassword,
            ClientCertificates = Parse(request.ClientCertificates, ClientCertificates.None, "clientCertificates", errors),
            ClientCaFile = request.ClientCaFile,
            CertificateIdentity = Parse(request.CertificateIdentity, CertificateIdentity.None, "certificateIdentity", errors),
            MaxConnections = request.MaxConnections ?? 0,
        };
        if (errors.Count > 0)
            return new ListenerResult(ListenerResultKind.Invalid, string.Join(" ", errors));
        if (request.Port is null)
            return new ListenerResult(ListenerResultKind.Invalid, "port is required (0 lets the system choose).");

        var rules = request.SecurityOf is { } name
            ? configured.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase))
            : configured.Count > 0 ? configured[0] : null;
        if (rules is null)
            return new ListenerResult(ListenerResultKind.Invalid, request.SecurityOf is null
                ? "there is no configured listener whose security settings this one could take."
                : $"securityOf: there is no configured listener '{request.SecurityOf}'.");
        // The start-up rule (SecuritySetup.Resolve): anonymous clients from the network only when someone said so.
        if (rules.AllowAnonymous && !options.IsLoopback && rules.Listener.IsLoopback)
        {
            return new ListenerResult(ListenerResultKind.Invalid,
                $"{options.BindAddress} is reachable from the network, but listener {rules.Name}, whose security settings it takes, admits anonymous clients because it is on loopback. Name another with securityOf, or bind to 127.0.0.1.");
        }

        return Convert(await live.AddAsync(options, rules.Name));
    }

    public async Task<ListenerResult> StopAsync(string name) => Convert(await live.StopAsync(name));

    public async Task<ListenerResult> ChangeTlsAsync(string name, TlsFilesRequest request) =>
        Convert(await live.ChangeTlsAsync(name, request.Certificate!, request.PrivateKey, request.CertificatePassword, request.ClientCaFile));

    private static T Parse<T>(string? value, T absent, string key, List<string> errors) where T : struct, Enum
    {
        if (value is null)
            return absent;
        if (!int.TryParse(value, out _) && Enum.TryParse<T>(value, ignoreCase: true, out var parsed))
            return parsed;
        errors.Add($"{key} must be one of {string.Join(", ", Enum.GetNames<T>())} (was '{value}').");
        return absent;
    }

    private static ListenerResult Convert(ListenerChange change) => new(change.Outcome switch
    {
        ListenerChangeOutcome.Done => ListenerResultKind.Done,
        ListenerChangeOutcome.NotFound => ListenerResultKind.NotFound,
        ListenerChangeOutcome.Conflict => ListenerResultKind.Conflict,
        _ => ListenerResultKind.Invalid,
    }, string.Join(" ", change.Errors));
}
