using System.Net.Security;
using Kirisame.Transport.Listeners;
using Microsoft.Extensions.Logging;

namespace Kirisame.Transport.Tls;

/// The TLS handling of the MQTT listeners (certificate files reloaded when they change, TLS 1.2 and 1.3 only,
/// client certificates against the listener's own CA) for another HTTPS endpoint of the same process, such as
/// the management listener, so that both take the same certificate options.
public static class HttpsCertificates
{
    /// The options for each new connection. Loads the certificate now: a file that cannot be used throws here
    /// (CryptographicException, IOException), at start-up.
    public static Func<SslServerAuthenticationOptions> Create(ListenerOptions listener, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(listener);
        var settings = new TlsSettings(listener, logger);
        _ = settings.CreateOptions(http: true);
        return () => settings.CreateOptions(http: true);
    }
}
