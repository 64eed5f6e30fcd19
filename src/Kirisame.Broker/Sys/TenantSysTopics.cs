using System.Globalization;
using Kirisame.Broker.Tenants;

namespace Kirisame.Broker.Sys;

/// $SYS/broker/tenants/…: the operator's view of every tenant (docs/adr/0021-tenants.md), published by the default
/// tenant's $SYS publisher only — a tenant's core never has a <see cref="TenantDirectory"/>, so a tenant's own $SYS
/// holds its own counts and nothing of the others'. Per tenant (the default one included, as GET /api/v1/tenants
/// lists them), under `tenants/NAME/`, the figures of its <see cref="TenantSnapshot"/> in the names the default $SYS
/// gives them where it has one; and `tenants/count`. A tenant that is no longer listed (removed) has its values
/// cleared at the next publication — an empty retained message deletes the retained one [MQTT-3.3.1-6] — so they
/// do not linger for new subscribers. Only this type decides what is published there; it runs on the housekeeping
/// thread, one publication at a time, so its set of published names needs no lock.
internal sealed class TenantSysTopics(Action<string, string> value)
{
    private const string Prefix = "tenants/";

    /// The figures and their names under `tenants/NAME/`.
    private static readonly (string Name, Func<TenantSnapshot, long> Value)[] s_figures =
    [
        ("clients/connected", t => t.Connected),
        ("sessions/count", t => t.Sessions),
        ("subscriptions/count", t => t.Subscriptions),
        ("retained messages/count", t => t.RetainedMessages),
        ("retained messages/bytes", t => t.RetainedBytes),
        ("messages/received", t => t.MessagesReceived),
        ("messages/sent", t => t.MessagesSent),
        ("messages/dropped", t => t.MessagesDropped),
    ];

    private HashSet<string> _published = new(StringComparer.Ordinal);

    public void Publish(IReadOnlyList<TenantSnapshot> tenants)
    {
        var now = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tenant in tenants)
        {
            now.Add(tenant.Name);
            foreach (var (name, figure) in s_figures)
                value(Prefix + tenant.Name + "/" + name, figure(tenant).ToString(CultureInfo.InvariantCulture));
        }

        value(Prefix + "count", tenants.Count.ToString(CultureInfo.InvariantCulture));
        foreach (var gone in _published.Where(name => !now.Contains(name)))
        {
            foreach (var (name, _) in s_figures)
                value(Prefix + gone + "/" + name, "");
        }

        _published = now;
    }
}
