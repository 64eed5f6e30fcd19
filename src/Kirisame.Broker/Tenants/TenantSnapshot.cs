namespace Kirisame.Broker.Tenants;

/// One tenant as the management API lists it: its quotas and what it holds now (the figures its $SYS reports).
/// <paramref name="StoreHealthy"/>: false while its store cannot write (its QoS 1/2 messages are refused then).
public sealed record TenantSnapshot(string Name, IReadOnlyList<string> ServerNames, TenantQuotas Quotas, long Connected, int Sessions,
    int Subscriptions, int RetainedMessages, long RetainedBytes, long MessagesReceived, long MessagesSent, long MessagesDropped,
    bool StoreHealthy);

/// A tenant as configured (the tenants file, the management API): its security, built by the host, and its quotas.
/// <paramref name="ServerNames"/>: TLS server names (SNI) whose clients belong to this tenant.
public sealed record TenantDefinition(string Name, IReadOnlyList<string> ServerNames, TenantQuotas Quotas,
    Security.IAuthenticator Authenticator, Security.IAuthorizer Authorizer)
{
    /// The MQTT 5 enhanced authentication methods the tenant offers (section 4.12): SCRAM with its own users, a JWT
    /// method; none by default (CONNACK 0x8C Bad authentication method).
    public IReadOnlyList<Security.IEnhancedAuthenticationMethod> Methods { get; init; } = [];
}

/// How a connection is mapped to a tenant, in this order: a user name `tenant{Separator}user`, the TLS server name
/// the client asked for, the listener's tenant (<see cref="ListenerTenants"/>), the default tenant.
public sealed record TenantMapping
{
    public string Separator { get; init; } = ":";

    /// Listener name → the tenant of the clients that connect to it without naming one.
    public IReadOnlyDictionary<string, string> ListenerTenants { get; init; } = new Dictionary<string, string>();

    /// How long a removed tenant's state (sessions, retained messages) is kept: re-adding it within this time gets
    /// it back; after it, the state is deleted.
    public TimeSpan RemovalGrace { get; init; } = TimeSpan.FromSeconds(30);
}
