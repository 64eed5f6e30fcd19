using System.Globalization;
using System.Net;
using Kirisame.Protocol.Topics;

namespace Kirisame.MqttSn;

/// The MQTT-SN 1.2 gateway (docs/adr/0015), bound from the "MqttSn" configuration section. Off unless enabled.
public sealed class MqttSnOptions
{
    public const string SectionName = "MqttSn";

    public bool Enabled { get; set; }

    /// UDP address to bind. Loopback unless set: a UDP port with no authentication is exposed on purpose only.
    public string BindAddress { get; set; } = "127.0.0.1";

    /// UDP port; 1884 next to MQTT's 1883 (no port is registered for MQTT-SN). 0 lets the system choose.
    public int Port { get; set; } = 1884;

    /// The GwId in ADVERTISE and GWINFO.
    public int GatewayId { get; set; } = 1;

    /// How often ADVERTISE is sent to <see cref="AdvertiseAddress"/>; 00:00:00 = never.
    public TimeSpan AdvertiseInterval { get; set; } = TimeSpan.FromMinutes(15);

    /// Where ADVERTISE goes, address:port (a broadcast or multicast address on a sensor network, e.g.
    /// 255.255.255.255:1884); empty = no ADVERTISE. SEARCHGW is answered with GWINFO to its sender.
    public string AdvertiseAddress { get; set; } = "";

    /// Topic id → topic name known to clients in advance (TopicIdType 1), e.g. MqttSn:PredefinedTopics:1 = sensors/t.
    public Dictionary<string, string> PredefinedTopics { get; set; } = new(StringComparer.Ordinal);

    /// Tretry: how long the gateway waits for an acknowledgement before sending again (MQTT-SN 1.2 §6.13).
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// Nretry: how many times it sends again before it considers the client lost.
    public int RetryCount { get; set; } = 3;

    /// MQTT-SN clients with state in the gateway at most (connected, asleep, or in the middle of the will flow);
    /// a CONNECT beyond it is answered "rejected: congestion".
    public int MaxClients { get; set; } = 1000;

    /// Of those, clients still in the CONNECT/will flow (state held for senders not yet connected, whose UDP
    /// source address may be spoofed): bounded separately, and dropped after Tretry × (Nretry + 1).
    public int MaxConnecting { get; set; } = 100;

    /// Topic ids the gateway registers per client at most; a REGISTER beyond it is answered "congestion".
    public int MaxTopicsPerClient { get; set; } = 1000;

    /// The MQTT listener whose ACL MQTT-SN clients are held to (IAuthorizer.ForListener); by default the default
    /// TCP listener's. Its authentication does not apply: MQTT-SN 1.2 has no credentials (docs/adr/0015).
    public string Listener { get; set; } = "tcp";

    /// The user name the ACL sees for MQTT-SN clients (MQTT-SN 1.2 has no credentials); unset = anonymous.
    public string? UserName { get; set; }

    /// The tenant MQTT-SN clients are served in (docs/adr/0021; MQTT-SN 1.2 has no user name to name one); unset = the
    /// default tenant. Its ACL applies (for <see cref="UserName"/>) instead of the listener's.
    public string? Tenant { get; set; }

    /// The Session Expiry given to a client connecting with CleanSession 0 (capped by Broker:MaxSessionExpirySeconds).
    public uint PersistentSessionExpirySeconds { get; set; } = 86_400;

    public IPEndPoint EndPoint => new(IPAddress.Parse(BindAddress), Port);

    /// <see cref="AdvertiseAddress"/> parsed; null when unset (call after <see cref="Validate"/>).
    public IPEndPoint? AdvertiseEndPoint => AdvertiseAddress.Length == 0 ? null : IPEndPoint.Parse(AdvertiseAddress);

    /// The predefined topics parsed (call after <see cref="Validate"/>).
    public IReadOnlyDictionary<ushort, string> Predefined =>
        PredefinedTopics.ToDictionary(p => ushort.Parse(p.Key, CultureInfo.InvariantCulture), p => p.Value);

    public IEnumerable<string> Validate()
    {
        if (!Enabled)
            yield break;
        if (!IPAddress.TryParse(BindAddress, out _))
            yield return $"{SectionName}:BindAddress must be an IP address (was '{BindAddress}').";
        if (Port is < 0 or > 65535)
            yield return $"{SectionName}:Port must be between 0 and 65535 (was {Port}).";
        if (GatewayId is < 0 or > 255)
            yield return $"{SectionName}:GatewayId must be between 0 and 255 (was {GatewayId}).";
        if (AdvertiseInterval < TimeSpan.Zero || AdvertiseInterval.TotalSeconds > ushort.MaxValue)
            yield return $"{SectionName}:AdvertiseInterval must be between 00:00:00 and 18:12:15, the most ADVERTISE's Duration can say (was {AdvertiseInterval}).";
        if (AdvertiseAddress.Length > 0 && !IPEndPoint.TryParse(AdvertiseAddress, out _))
            yield return $"{SectionName}:AdvertiseAddress must be address:port, e.g. 255.255.255.255:1884 (was '{AdvertiseAddress}').";
        if (RetryInterval <= TimeSpan.Zero || RetryInterval > TimeSpan.FromMinutes(10))
            yield return $"{SectionName}:RetryInterval must be above 00:00:00 and at most 00:10:00 (was {RetryInterval}).";
        if (RetryCount is < 0 or > 100)
            yield return $"{SectionName}:RetryCount must be between 0 and 100 (was {RetryCount}).";
        if (MaxClients < 1)
            yield return $"{SectionName}:MaxClients must be at least 1 (was {MaxClients}).";
        if (MaxConnecting < 1 || MaxConnecting > MaxClients)
            yield return $"{SectionName}:MaxConnecting must be between 1 and MaxClients (was {MaxConnecting}).";
        if (MaxTopicsPerClient is < 1 or > 65_534)
            yield return $"{SectionName}:MaxTopicsPerClient must be between 1 and 65534 (was {MaxTopicsPerClient}).";
        if (string.IsNullOrEmpty(Listener))
            yield return $"{SectionName}:Listener must name an MQTT listener whose ACL applies (default tcp).";
        foreach (var (id, name) in PredefinedTopics)
        {
            if (!ushort.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value is 0 or 0xFFFF)
                yield return $"{SectionName}:PredefinedTopics:{id}: a topic id must be a number from 1 to 65534.";
            else if (TopicRules.ValidateTopicName(name) != Protocol.DecodeError.None)
                yield return $"{SectionName}:PredefinedTopics:{id}: '{name}' is not a valid topic name (no wildcards).";
        }
    }
}
