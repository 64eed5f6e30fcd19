using System.Net;

namespace Kirisame.Transport;

/// The plain TCP listener, bound from the "Transport" configuration section. Validate() names a bad key.
public sealed class TransportOptions
{
    public const string SectionName = "Transport";

    /// TCP port; 0 lets the operating system choose (the bound port is logged).
    public int Port { get; set; } = 1883;

    /// IP address to bind. Loopback by default so a first run is not reachable from the network.
    public string BindAddress { get; set; } = "127.0.0.1";

    /// Listen backlog: connections the kernel queues before accept. Bursts of connects beyond it are refused.
    public int Backlog { get; set; } = 512;

    /// TCP_NODELAY: MQTT packets are small and latency-sensitive; the writer already batches per flush.
    public bool NoDelay { get; set; } = true;

    public IEnumerable<string> Validate()
    {
        if (Port is < 0 or > 65535)
            yield return $"{SectionName}:Port must be between 0 and 65535 (was {Port}).";
        if (!IPAddress.TryParse(BindAddress, out _))
            yield return $"{SectionName}:BindAddress must be an IP address such as 127.0.0.1, 0.0.0.0 or :: (was '{BindAddress}').";
        if (Backlog < 1)
            yield return $"{SectionName}:Backlog must be at least 1 (was {Backlog}).";
    }

    public IPEndPoint EndPoint => new(IPAddress.Parse(BindAddress), Port);
}
