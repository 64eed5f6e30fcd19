using System.Net;

namespace Kirisame.Cluster;

/// The `Cluster` section (README, "Cluster"). Without a Name the broker is a single node: no Orleans silo is
/// started and nothing of this project is on any path.
internal sealed class ClusterSettings
{
    public const string SectionName = "Cluster";

    /// The cluster's name; every node of one cluster gives the same. Empty: not clustered.
    public string Name { get; set; } = "";

    /// Silo endpoints (HOST:PORT, comma separated) of the nodes to join through, when Membership is empty. The first
    /// is the primary: Orleans' development membership keeps the member list on it, so it is the membership's single
    /// point of failure (docs/adr/0020).
    public string Seeds { get; set; } = "";

    /// Where the member list is kept instead of the primary seed: "redis:" and a StackExchange.Redis configuration
    /// (e.g. redis:127.0.0.1:6379,password=…), or "postgres:" and an Npgsql connection string
    /// (e.g. postgres:Host=db;Database=kirisame;Username=kirisame;Password=…). Never logged: it may carry a password.
    public string Membership { get; set; } = "";

    /// A folder every node reaches (the same path on each), holding each node's store in a folder named for its silo
    /// endpoint (Storage:DataDirectory is not used then): when a node dies, a live one takes its persistent sessions up
    /// from there (docs/adr/0020). Empty: each node's store is its own, and a node's persistent sessions die with it.
    public string SharedStore { get; set; } = "";

    /// This node's store folder in <see cref="SharedStore"/>.
    public string StoreFolder => Cluster.SharedStore.FolderIn(SharedStore, $"{AdvertisedAddress}:{SiloPort}");

    /// Port of this node's silo (node-to-node traffic).
    public int SiloPort { get; set; } = 11111;

    /// Port of the Orleans gateway for external Orleans clients; 0 (the default) opens none.
    public int GatewayPort { get; set; }

    /// The address the other nodes reach this one at; also the address the silo binds.
    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    /// How long a node waits for a probe's answer before counting it missed.
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// Missed probes after which a node suspects another: ProbeTimeout × this is about the time a dead node takes to
    /// be declared dead (3 s by default; Orleans' own default is about 15 s).
    public int MissedProbesLimit { get; set; } = 3;

    /// A node that has not been able to read the member list for this long refuses new connections and reports not
    /// ready: cut off, it cannot promise that a client id is held on one node only.
    public TimeSpan MembershipTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public bool Enabled => Name.Length > 0;

    internal const string RedisPrefix = "redis:";

    internal const string PostgresPrefix = "postgres:";

    public bool UsesRedis => Membership.StartsWith(RedisPrefix, StringComparison.OrdinalIgnoreCase);

    public bool UsesPostgres => Membership.StartsWith(PostgresPrefix, StringComparison.OrdinalIgnoreCase);

    /// The Npgsql connection string of a "postgres:" membership.
    public string PostgresConnectionString => Membership[PostgresPrefix.Length..];

    /// Where the member list is, for the start-up summary (no credentials).
    public string MembershipDescription => UsesRedis ? "in Redis" : UsesPostgres ? $"in PostgreSQL ({PostgresMembershipSchema.Describe(PostgresConnectionString)})" : $"on the primary seed {SeedEndPoints[0]}";

    public IPAddress Address => IPAddress.Parse(AdvertisedAddress);

    /// The seed endpoints, in order; valid only after <see cref="Validate"/> found no problem.
    public IReadOnlyList<IPEndPoint> SeedEndPoints => [.. Seeds.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(IPEndPoint.Parse)];

    public IEnumerable<string> Validate()
    {
        if (!Enabled)
        {
            if (Seeds.Length > 0 || Membership.Length > 0 || SharedStore.Length > 0)
                yield return $"{SectionName}:Seeds, {SectionName}:Membership and {SectionName}:SharedStore need {SectionName}:Name (--cluster NAME).";
            yield break;
        }

        if (Name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            yield return $"{SectionName}:Name may hold letters, digits, '-', '_' and '.' only (was '{Name}').";
        if (!IPAddress.TryParse(AdvertisedAddress, out _))
            yield return $"{SectionName}:AdvertisedAddress must be an IP address (was '{AdvertisedAddress}').";
        if (SiloPort is < 1 or > 65535)
            yield return $"{SectionName}:SiloPort must be between 1 and 65535 (was {SiloPort}).";
        if (GatewayPort is < 0 or > 65535)
            yield return $"{SectionName}:GatewayPort must be between 0 and 65535 (was {GatewayPort}).";
        if (ProbeTimeout < TimeSpan.FromMilliseconds(100))
            yield return $"{SectionName}:ProbeTimeout must be at least 00:00:00.1 (was {ProbeTimeout}).";
        if (MissedProbesLimit < 1)
            yield return $"{SectionName}:MissedProbesLimit must be at least 1 (was {MissedProbesLimit}).";
        if (MembershipTimeout < ProbeTimeout)
            yield return $"{SectionName}:MembershipTimeout must not be below ProbeTimeout (was {MembershipTimeout}).";
        if (Membership.Length > 0)
        {
            if (UsesPostgres)
            {
                if (PostgresMembershipSchema.CheckConnectionString(PostgresConnectionString) is { } problem)
                    yield return $"{SectionName}:Membership: {problem}";
            }
            else if (!UsesRedis)
                yield return $"{SectionName}:Membership must start with \"{RedisPrefix}\" followed by a Redis configuration (e.g. redis:127.0.0.1:6379) or \"{PostgresPrefix}\" followed by an Npgsql connection string (e.g. postgres:Host=127.0.0.1;Username=kirisame); empty uses {SectionName}:Seeds.";
            else if (Membership.Length == RedisPrefix.Length)
                yield return $"{SectionName}:Membership: the Redis configuration after \"{RedisPrefix}\" is empty.";
            yield break;
        }

        var seeds = Seeds.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (seeds.Length == 0)
            yield return $"{SectionName}:Seeds: give at least one silo endpoint HOST:PORT (--cluster-seeds 127.0.0.1:11111), or {SectionName}:Membership.";
        foreach (var seed in seeds)
        {
            if (!IPEndPoint.TryParse(seed, out var endPoint) || endPoint.Port == 0)
                yield return $"{SectionName}:Seeds: '{seed}' is not an IP address with a port (e.g. 127.0.0.1:11111).";
        }
    }
}
