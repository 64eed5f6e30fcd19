using Kirisame.Broker;
using Kirisame.Broker.Security;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;

namespace Kirisame.Transport.Hosting;

/// What <see cref="KirisameServiceCollectionExtensions.AddKirisame"/> builds: the broker's options, the plain
/// MQTT-over-TCP listener it serves (Kirisame's own transport; TLS and WebSocket listeners need Kestrel and
/// are served by the `kirisame` server), and the seams an application may fill in.
public sealed class KirisameOptions
{
    /// The broker's settings ("Broker" keys of the server's configuration). $SYS is on, every 10 s.
    public BrokerOptions Broker { get; } = new();

    /// The listener (port 1883 on 127.0.0.1 by default; port 0 lets the system choose). Set Enabled to false for
    /// a broker that only in-process clients use.
    public TransportOptions Transport { get; } = new();

    /// Where persistent sessions and retained messages go; in memory (lost at exit) unless set. The application
    /// owns it: open it before the host starts and dispose it after the host has stopped.
    public IBrokerStore? Store { get; set; }

    /// Who may connect; everyone unless set. A listener reachable from the network should have one.
    public IAuthenticator? Authenticator { get; set; }

    /// What each client may publish and subscribe to; everything unless set.
    public IAuthorizer? Authorizer { get; set; }

    /// Who holds each client id, with takeover epochs; this process's own (<see cref="LocalSessionRegistry"/>)
    /// unless set, as a cluster will.
    public ISessionRegistry? SessionRegistry { get; set; }

    /// The option errors, each naming its key; empty when valid.
    public IEnumerable<string> Validate() => Broker.Validate().Concat(Transport.Validate());
}
