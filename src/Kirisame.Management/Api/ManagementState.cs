using System.Text.Json.Nodes;
using Kirisame.Broker;

namespace Kirisame.Management.Api;

/// The host's answers (<see cref="ManagementContext"/>) in the form the endpoints use.
internal sealed class ManagementState(ManagementContext context)
{
    public IReadOnlyList<ListenerView> Listeners() => [.. context.Listeners().Select(l => new ListenerView(l.Name, l.Protocol, l.EndPoint))];

    public JsonObject Configuration() => ConfigurationView.Describe(context.Configuration());

    /// The host's checks and the store's: it is open while the broker runs; ready while it can write.
    public IReadOnlyList<ReadinessCheck> Readiness(MqttBroker broker) =>
    [
        .. context.Readiness(),
        new ReadinessCheck("store", broker.Store.Healthy, broker.Store.Healthy ? "open, writes succeed" : "writes are failing: QoS 1/2 messages are refused"),
    ];
}
