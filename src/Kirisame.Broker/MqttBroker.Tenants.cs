using Kirisame.Broker.Diagnostics;
using Kirisame.Broker.Security;
using Kirisame.Broker.Sessions;
using Kirisame.Broker.Storage;
using Kirisame.Broker.Tenants;
using Kirisame.Protocol;

namespace Kirisame.Broker;

/// Tenants (docs/adr/0021-tenants.md): each tenant is a broker core of its own — sessions, client ids, topic tree,
/// retained messages, $SYS — beside the operator's core, which is the default tenant and accepts every connection.
/// A connection is handed to its tenant's core once its CONNECT says which tenant it belongs to, before anything of
/// its session exists, so nothing of one tenant can reach another's state.
public sealed partial class MqttBroker
{
    /// What a tenant's core takes from the operator's.
    private sealed record TenantCore(MqttBroker Operator, TenantLimits Limits);

    /// The operator's core (the default tenant) this one belongs to; null for the operator's own.
    internal MqttBroker? Operator { get; }

    /// The tenant's quotas and counts; null for the default tenant, which has none (its limits are the Broker section's).
    internal TenantLimits? Limits { get; }

    /// The tenant this core serves, or null for the default tenant.
    public string? TenantName => Limits?.Tenant;

    /// The tenants besides the default one, once <see cref="EnableTenants"/> was called (never for a tenant's core).
    public TenantDirectory? Tenants { get; private set; }

    /// Turns tenants on: until then (and without tenants configured) connections are never mapped.
    /// <paramref name="storage"/>: where each tenant keeps its state; null keeps it in memory (nothing survives a restart).
    public TenantDirectory EnableTenants(TenantMapping mapping, ITenantStorage? storage = null) => EnableTenants(mapping, storage, cluster: null);

    /// <paramref name="cluster"/>: how each tenant's core joins the cluster this node is part of (null on a single node).
    internal TenantDirectory EnableTenants(TenantMapping mapping, ITenantStorage? storage, ITenantCluster? cluster)
    {
        if (Operator is not null)
            throw new InvalidOperationException("A tenant's broker has no tenants of its own.");
        return Tenants ??= new TenantDirectory(this, mapping, storage, cluster);
    }

    /// A tenant's core: its own authentication, enhanced authentication methods (SCRAM with the tenant's users) and
    /// ACL, and its own store (null: in memory) and client-id registry (null: this process's own).
    internal MqttBroker CreateTenant(string name, TenantQuotas quotas, IAuthenticator authenticator, IAuthorizer authorizer,
        IReadOnlyList<IEnhancedAuthenticationMethod> methods, IBrokerStore? store, ISessionRegistry? registry) =>
        new(Options, LoggerFactory, TimeProvider, authenticator, authorizer, methods, store, registry,
            new TenantCore(this, new TenantLimits(name, quotas, TimeProvider)));

    /// Sessions of clients (the broker's own — $SYS, and in a cluster those standing for other nodes — not among
    /// them), for the session quota. Caller holds _sessionsLock.
    private int ClientSessionCountLocked => _sessions.Count - _ownSessions;

    /// The tenant's quotas on an inbound PUBLISH (AdmitPublish): the message rate (0x96: the connection is closed),
    /// then the queued bytes and the retained count and bytes (0x97 Quota exceeded, the PUBACK code
    /// for "an implementation or administrative imposed limit has been exceeded", section 3.4.2.1).
    private ReasonCode AdmitForTenant(TenantLimits limits, string topic, bool retain, int payloadBytes, out string? why)
    {
        why = null;
        if (!limits.TakeMessage())
        {
            why = $"tenant '{limits.Tenant}' is over its message rate ({limits.Quotas.MaxMessagesPerSecond}/s)";
            return Refused(ReasonCode.MessageRateTooHigh, DropReason.TenantQuota);
        }

        if (limits.QueueFull)
        {
            why = $"tenant '{limits.Tenant}' has more queued than its quota ({limits.Quotas.MaxQueuedBytes} bytes)";
            return Refused(ReasonCode.QuotaExceeded, DropReason.TenantQuota);
        }

        if (retain && payloadBytes > 0)
        {
            var quotas = limits.Quotas;
            var previous = Retained.SizeOf(topic);
            if (previous < 0 && quotas.MaxRetainedMessages is { } maxCount && Retained.ClientCount >= maxCount)
            {
                why = $"tenant '{limits.Tenant}' holds its quota of retained messages ({maxCount})";
                return Refused(ReasonCode.QuotaExceeded, DropReason.TenantQuota);
            }

            if (quotas.MaxRetainedBytes is { } maxBytes && Retained.Bytes + payloadBytes - Math.Max(0, previous) > maxBytes)
            {
                why = $"tenant '{limits.Tenant}' would hold more retained bytes than its quota ({maxBytes})";
                return Refused(ReasonCode.QuotaExceeded, DropReason.TenantQuota);
            }
        }

        return ReasonCode.Success;
    }

    /// Housekeeping of a tenant's core: whether its sessions' queues are over the tenant's quota.
    private void CheckTenantQueues(TenantLimits limits)
    {
        if (limits.Quotas.MaxQueuedBytes is not { } max)
        {
            limits.QueueFull = false;
            return;
        }

        long queued = 0;
        foreach (var session in SessionList())
        {
            lock (session.Sync)
                queued += session.PendingOrNull?.Bytes ?? 0;
        }

        limits.QueueFull = queued >= max;
    }

    /// A tenant's password or ACL file changed: connections from now on use the new ones.
    internal void ReplaceSecurity(IAuthenticator authenticator, IAuthorizer authorizer, IReadOnlyList<IEnhancedAuthenticationMethod> methods)
    {
        Authenticator = authenticator;
        Authorizer = authorizer;
        // A new dictionary, not changed in place: handshakes read the field once, without a lock.
        _authenticationMethods = MethodsByName(methods);
    }

    /// A removed tenant: its clients are disconnected with 0x98 Administrative action (3.1.1 clients: closed).
    internal int DisconnectAll()
    {
        var count = 0;
        foreach (var connection in _connections.Slots)
        {
            if (connection is null)
                continue;
            connection.RequestClose(ReasonCode.AdministrativeAction);
            count++;
        }

        return count;
    }

    /// Takes over a connection that the operator's core accepted and mapped to this tenant (before its session).
    internal void Adopt(ClientConnection connection) => _connections.Add(connection);

    /// Lets go of a connection handed to a tenant's core.
    internal void Release(ClientConnection connection) => _connections.Remove(connection);

    /// Every tenant with its quotas and counts, the default one first; the default tenant alone without tenants.
    public IReadOnlyList<TenantSnapshot> ListTenants() => Tenants?.List() ?? [Describe([])];

    /// What the management API shows of one tenant.
    internal TenantSnapshot Describe(IReadOnlyList<string> serverNames)
    {
        var s = Statistics;
        int sessions;
        lock (_sessionsLock)
            sessions = ClientSessionCountLocked;
        return new TenantSnapshot(TenantName ?? TenantDirectory.DefaultTenant, serverNames, Limits?.Quotas ?? TenantQuotas.None,
            Interlocked.Read(ref s.ClientsConnected), sessions, Subscriptions.Count, Retained.ClientCount, Retained.Bytes,
            Interlocked.Read(ref s.MessagesReceived), Interlocked.Read(ref s.MessagesSent), Interlocked.Read(ref s.MessagesDropped), Store.Healthy);
    }
}
