using System.Diagnostics.Metrics;
using Kirisame.Broker;
using Kirisame.Broker.Tenants;

namespace Kirisame.Server.Tenants;

/// Each tenant's figures on the exported `Kirisame` meter (docs/metrics.md), tagged `tenant` — one series per tenant,
/// the default one included, so the label stays bounded by configuration. Observable: read from the tenants'
/// snapshots when the exporter collects, so nothing is added to the publish path. (A tenant core's own meter,
/// `Kirisame.Tenant`, stays unexported: its instruments have the default tenant's names without a tag.)
internal sealed class TenantMetrics : IDisposable
{
    private readonly Meter _meter = new("Kirisame", MqttBroker.Version);

    public TenantMetrics(TenantDirectory directory)
    {
        _meter.CreateObservableUpDownCounter("kirisame.tenant.clients.connected", () => Each(directory, t => t.Connected), "{client}",
            "Clients connected, per tenant");
        _meter.CreateObservableUpDownCounter("kirisame.tenant.sessions", () => Each(directory, t => t.Sessions), "{session}",
            "Sessions (connected or not), per tenant");
        _meter.CreateObservableUpDownCounter("kirisame.tenant.retained.messages", () => Each(directory, t => t.RetainedMessages), "{message}",
            "Retained messages, per tenant");
        _meter.CreateObservableCounter("kirisame.tenant.messages.received", () => Each(directory, t => t.MessagesReceived), "{message}",
            "PUBLISH packets received from the tenant's clients, since start");
        _meter.CreateObservableCounter("kirisame.tenant.messages.sent", () => Each(directory, t => t.MessagesSent), "{message}",
            "PUBLISH packets sent to the tenant's clients, since start");
        _meter.CreateObservableCounter("kirisame.tenant.messages.dropped", () => Each(directory, t => t.MessagesDropped), "{message}",
            "Messages the tenant's core dropped (every reason), since start");
    }

    private static IEnumerable<Measurement<long>> Each(TenantDirectory directory, Func<TenantSnapshot, long> value) =>
        directory.List().Select(t => new Measurement<long>(value(t), new KeyValuePair<string, object?>("tenant", t.Name)));

    public void Dispose() => _meter.Dispose();
}
