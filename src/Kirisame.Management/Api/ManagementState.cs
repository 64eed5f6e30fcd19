using System.Text.Json.Nodes;
using Kirisame.Broker;

namespace Kirisame.Management.Api;

/// The host's answers (<see cref="ManagementContext"/>) in the form the endpoints use.
internal sealed class ManagementState(ManagementContext context)
{
    public IReadOnlyList<ListenerView> Listeners() => [.. context.Listeners().Select(l => new ListenerView(l.Name, l.Protocol, l.EndPoint))];

    public JsonObject Configuration() => ConfigurationView.Describe(context.Configuration());

    /// The host's checks and the stores': open while the broker runs; ready while they can write — the default
    /// tenant's and every tenant's own (docs/adr/0021-tenants.md), named when it fails.
    public IReadOnlyList<ReadinessCheck> Readiness(MqttBroker broker)
    {
        var failing = broker.Tenants?.List().Where(t => !t.StoreHealthy).Select(t => t.Name).ToList() ?? (broker.Store.Healthy ? [] : ["default"]);
        return
        [
            .. context.Readiness(),
            new ReadinessCheck("store", failing.Count == 0, failing.Count == 0 ? "open, writes succeed"
                : broker.Tenants is null ? "writes are failing: QoS 1/2 messages are refused"
                : $"writes are failing in the store of tenant {string.Join(", ", failing)}: their QoS 1/2 messages are refused"),
        ];
    }
}
