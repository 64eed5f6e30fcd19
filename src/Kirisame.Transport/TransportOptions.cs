using System.Net;

namespace Kirisame.Transport;

/// The server behind plain TCP listeners (Transport:PlainTcpEngine).
public enum TcpEngine
{
    /// Our own transport on Linux's epoll: a connection is its file descriptor and two small objects.
    /// Elsewhere (not Linux on x86-64) Sockets is used instead.
    Epoll,

    /// Our own transport on .NET sockets (any platform).
    Sockets,

    /// Kestrel's socket transport.
    Kestrel,
}

/// The default plain TCP listener and limits that apply to every listener, bound from the "Transport"
/// configuration section. More listeners (TLS, WebSockets) come from "Listeners". Validate() names a bad key.
public sealed class TransportOptions
{
    public const string SectionName = "Transport";

    /// The default listener (MQTT over TCP on Port/BindAddress). Turn it off to serve only the listeners
    /// declared under "Listeners", e.g. TLS only.
    public bool Enabled { get; set; } = true;

    /// TCP port; 0 lets the operating system choose (the bound port is logged).
    public int Port { get; set; } = 1883;

    /// IP address to bind. Loopback by default so a first run is not reachable from the network.
    public string BindAddress { get; set; } = "127.0.0.1";

    /// Listen backlog: connections the kernel queues before accept. Bursts of connects beyond it are refused.
    public int Backlog { get; set; } = 512;

    /// TCP_NODELAY: MQTT packets are small and latency-sensitive; the writer already batches per flush.
    public bool NoDelay { get; set; } = true;

    /// What serves plain MQTT-over-TCP listeners: our own transport on epoll (the default; Sockets where
    /// epoll is not available), on .NET sockets, or Kestrel. Ours costs an idle connection a fraction of
    /// Kestrel's, and writes go straight to the socket. TLS and WebSocket listeners always use Kestrel.
    public TcpEngine PlainTcpEngine { get; set; } = TcpEngine.Epoll;

    /// Open connections across all listeners at most. 0 (the default) = what the file-descriptor limit
    /// allows less a reserve for the broker's own files (ConnectionBudget); a value above that is lowered to
    /// it, with a warning. Beyond it new connections are closed on accept, before any TLS handshake.
    public int MaxConnections { get; set; }

    /// New connections per second from one IP address (sustained); 0 = no limit. Beyond it connections
    /// are closed on accept.
    public double MaxConnectRatePerAddress { get; set; }

    /// Connections one address may open in a burst before MaxConnectRatePerAddress applies.
    public int ConnectBurstPerAddress { get; set; } = 20;

    public IEnumerable<string> Validate()
    {
        if (Port is < 0 or > 65535)
            yield return $"{SectionName}:Port must be between 0 and 65535 (was {Port}).";
        if (!IPAddress.TryParse(BindAddress, out _))
            yield return $"{SectionName}:BindAddress must be an IP address such as 127.0.0.1, 0.0.0.0 or :: (was '{BindAddress}').";
        if (Backlog < 1)
            yield return $"{SectionName}:Backlog must be at least 1 (was {Backlog}).";
        if (!Enum.IsDefined(PlainTcpEngine))
            yield return $"{SectionName}:PlainTcpEngine must be Epoll, Sockets or Kestrel (was {PlainTcpEngine}).";
        if (MaxConnections < 0)
            yield return $"{SectionName}:MaxConnections must be 0 (what the descriptor limit allows) or more (was {MaxConnections}).";
        if (MaxConnectRatePerAddress < 0 || double.IsNaN(MaxConnectRatePerAddress))
            yield return $"{SectionName}:MaxConnectRatePerAddress must be 0 (no limit) or more (was {MaxConnectRatePerAddress}).";
        if (ConnectBurstPerAddress < 1)
            yield return $"{SectionName}:ConnectBurstPerAddress must be at least 1 (was {ConnectBurstPerAddress}).";
    }

    public IPEndPoint EndPoint => new(IPAddress.Parse(BindAddress), Port);

    /// The default listener as a listener like the others.
    public Listeners.ListenerOptions DefaultListener => new()
    {
        Name = "tcp",
        Protocol = Listeners.ListenerProtocol.Mqtt,
        Port = Port,
        BindAddress = BindAddress,
    };
}
